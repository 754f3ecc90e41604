import net from 'node:net';
import mqttPacket, { type Packet } from 'mqtt-packet';

/**
 * One MQTT 3.1.1 connection made from raw packets: CONNECT out, CONNACK in.
 * The connection storm uses this instead of MQTT.js, whose per-client setup
 * (stores, timers, a parser and a stream pipeline each) caps one generator
 * process below the rate the brokers accept.
 */
export function rawConnect(url: string, credentials: { username?: string; password?: string }, clientId: string, timeoutMs: number): Promise<net.Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: hostname, port: Number(port) || 1883, noDelay: true });
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    const timer = setTimeout(() => fail(new Error('no CONNACK in time')), timeoutMs);
    const fail = (error: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    };
    parser.on('packet', (packet: Packet) => {
      clearTimeout(timer);
      if (packet.cmd !== 'connack') return fail(new Error(`expected CONNACK, got ${packet.cmd}`));
      if (packet.returnCode !== 0) return fail(new Error(`Connection refused: ${packet.returnCode}`));
      resolve(socket);
    });
    parser.on('error', fail);
    socket.on('data', (chunk: Buffer) => parser.parse(chunk));
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('closed before CONNACK')));
    socket.on('connect', () => {
      socket.write(mqttPacket.generate({
        cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId, keepalive: 60,
        ...(credentials.username === undefined ? {} : { username: credentials.username }),
        ...(credentials.password === undefined ? {} : { password: Buffer.from(credentials.password) }),
      }));
    });
  });
}

/** DISCONNECT, then close. */
export function rawDisconnect(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) return resolve();
    socket.once('close', () => resolve());
    socket.end(mqttPacket.generate({ cmd: 'disconnect' }));
  });
}
