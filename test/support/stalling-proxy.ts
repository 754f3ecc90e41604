import net from 'node:net';

export type StallingProxy = {
  port: number;
  /**
   * From now on the "server" accepts and reads everything and answers nothing,
   * not even the end of a connection: a PostgreSQL that hangs (a stopped VM, a
   * dead network path) as its clients see it.
   */
  stall(): void;
  /** Bytes clients sent since the stall (read and dropped): proof that a query is waiting on it. */
  heldBytes(): number;
  close(): Promise<void>;
};

/** A TCP proxy in front of a server that can be made to stall. */
export async function stallingProxy(target: { host: string; port: number }): Promise<StallingProxy> {
  const sockets = new Set<net.Socket>();
  const pairs: { client: net.Socket; upstream: net.Socket }[] = [];
  let stalled = false;
  let held = 0;

  const swallow = (client: net.Socket) => {
    client.on('data', (chunk: Buffer) => (held += chunk.length));
    client.resume();
  };

  // allowHalfOpen: a client's FIN is not answered with ours, so its end() waits as on a hung server.
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    sockets.add(client);
    client.on('error', () => undefined);
    client.on('close', () => sockets.delete(client));
    if (stalled) return swallow(client);
    const upstream = net.connect(target);
    sockets.add(upstream);
    upstream.on('error', () => client.destroy());
    upstream.on('close', () => sockets.delete(upstream));
    client.on('close', () => {
      if (!stalled) upstream.destroy();
    });
    client.pipe(upstream);
    upstream.pipe(client);
    pairs.push({ client, upstream });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));

  return {
    port: (server.address() as net.AddressInfo).port,
    stall() {
      stalled = true;
      for (const { client, upstream } of pairs) {
        client.unpipe(upstream);
        upstream.unpipe(client);
        upstream.pause();
        swallow(client);
      }
    },
    heldBytes: () => held,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
