import net from 'node:net';

/**
 * The unit project tests pure code: no PostgreSQL, no server, no socket. A unit
 * test that opens one fails here with the reason, rather than passing on a machine
 * that happens to have the service; move it to test/integration.
 */
function refuse(what: string): never {
  throw new Error(`unit tests open no sockets (${what}); this test belongs in test/integration/`);
}

net.Socket.prototype.connect = function connect() {
  refuse('net.Socket.connect');
} as typeof net.Socket.prototype.connect;
net.Server.prototype.listen = function listen() {
  refuse('net.Server.listen');
} as typeof net.Server.prototype.listen;
