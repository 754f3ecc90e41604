import { Aedes } from 'aedes';
import net from 'node:net';

/** Bare aedes, same version as Gatehouse's, no hooks, in-memory: the ceiling of our stack. `node bare-aedes.js <port>` */
const broker = await Aedes.createBroker();
const server = net.createServer({ noDelay: true }, (socket) => broker.handle(socket));
server.listen(Number(process.argv[2]), '127.0.0.1', () => process.stdout.write('ready\n'));
process.on('SIGTERM', () => broker.close(() => server.close(() => process.exit(0))));
