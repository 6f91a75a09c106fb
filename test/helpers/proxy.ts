/** A TCP proxy a test can cut and restore, to make a real service unreachable on purpose. */
import { connect, createServer, type Server, type Socket } from 'node:net';

/** A proxy on `port` (127.0.0.1) to `target`. */
export interface CuttableProxy {
  port: number;
  cut(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

/** Starts a proxy to host:port on a free local port. */
export async function startProxy(host: string, targetPort: number): Promise<CuttableProxy> {
  const sockets = new Set<Socket>();
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };
  let server: Server;
  const listen = (port: number): Promise<number> => {
    server = createServer((client) => {
      const upstream = connect(targetPort, host);
      track(client);
      track(upstream);
      client.pipe(upstream).pipe(client);
      client.once('close', () => upstream.destroy());
      upstream.once('close', () => client.destroy());
    });
    return new Promise((resolve) =>
      server.listen(port, '127.0.0.1', () => resolve((server.address() as { port: number }).port)),
    );
  };
  const port = await listen(0);
  const cut = async (): Promise<void> => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of sockets) s.destroy();
    await closed;
  };
  return { port, cut, restore: () => listen(port).then(() => undefined), close: cut };
}
