import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { runGenerator } from '../../bench/scenarios/runner.js';

/**
 * A broker that accepts a connection, then stops reading and finally drops it,
 * as an overloaded target may: the generator must still report, counting what
 * it could not send, rather than wait on the closed socket and end silently.
 */
describe('bench load generator', () => {
  const sockets: Socket[] = [];
  const server = createServer((socket) => {
    sockets.push(socket);
    socket.once('data', () => {
      socket.write(Buffer.from([0x20, 0x02, 0x00, 0x00])); // CONNACK, accepted
      socket.pause(); // and read nothing more: the publisher's buffers fill
      setTimeout(() => socket.destroy(), 500);
    });
  });
  afterAll(() => {
    sockets.forEach((socket) => socket.destroy());
    server.close();
  });

  it('reports a publisher whose connection the target dropped, with what it did not send', async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const report = await runGenerator({
      kind: 'publish', url: `mqtt://127.0.0.1:${port}`, publishers: [{ topic: 'devices/d/telemetry' }],
      messagesPerPublisher: 200_000, qos: 0, payloadBytes: 100, drainTimeoutMs: 0,
    });
    expect(report.errors).toBeGreaterThan(0);
    expect(report.sent + report.errors).toBe(200_000);
  }, 60_000);
});
