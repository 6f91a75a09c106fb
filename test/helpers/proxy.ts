/**
 * A TCP proxy a test can cut, blackhole and restore, to make a real service unreachable on
 * purpose: cut closes every connection (the service is gone); blackhole keeps them open but stops
 * forwarding both ways, with no reset (the service stops answering, packets are dropped).
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

/** A proxy on `port` (127.0.0.1) to `target`. */
export interface CuttableProxy {
  port: number;
  /** Closes the listener and every connection. */
  cut(): Promise<void>;
  /** Stops forwarding in both directions; connections (old and new) stay open and silent. */
  blackhole(): void;
  /** Undoes a cut (listens again) or a blackhole (forwards again what was held). */
  restore(): Promise<void>;
  close(): Promise<void>;
}

/** Starts a proxy to host:port on a free local port. */
export async function startProxy(host: string, targetPort: number): Promise<CuttableProxy> {
  const sockets = new Set<Socket>();
  const pairs = new Set<[Socket, Socket]>();
  let silent = false;
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };
  const forward = ([client, upstream]: [Socket, Socket]): void => {
    client.pipe(upstream).pipe(client);
  };
  const hold = ([client, upstream]: [Socket, Socket]): void => {
    client.unpipe(upstream);
    upstream.unpipe(client);
    client.pause();
    upstream.pause();
  };
  let server: Server;
  const listen = (port: number): Promise<number> => {
    server = createServer((client) => {
      const upstream = connect(targetPort, host);
      const pair: [Socket, Socket] = [client, upstream];
      track(client);
      track(upstream);
      pairs.add(pair);
      if (silent) hold(pair);
      else forward(pair);
      client.once('close', () => {
        upstream.destroy();
        pairs.delete(pair);
      });
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
  const blackhole = (): void => {
    silent = true;
    for (const pair of pairs) hold(pair);
  };
  const restore = async (): Promise<void> => {
    if (silent) {
      silent = false;
      for (const pair of pairs) forward(pair);
    }
    if (!server.listening) await listen(port);
  };
  return { port, cut, blackhole, restore, close: cut };
}

/** A proxy that passes MQTT 3.1.1 through and stays silent on an MQTT 5 CONNECT. */
export interface SilentOnV5Proxy {
  url: string;
  /** The protocol level of each CONNECT seen, in order (4: 3.1.1, 5: MQTT 5). */
  readonly levels: number[];
  close(): Promise<void>;
}

/**
 * Starts a proxy on a free local port in front of the broker on 127.0.0.1:`targetPort` that
 * behaves like brokers which speak only MQTT 3.1.1 and never answer an MQTT 5 CONNECT (mosca,
 * some embedded ones): a connection whose CONNECT asks for protocol level 5 is held open and
 * answered with nothing; any other is forwarded, from its first byte.
 */
export async function startSilentOnV5Proxy(targetPort: number): Promise<SilentOnV5Proxy> {
  const sockets = new Set<Socket>();
  const levels: number[] = [];
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };
  const server = createServer((client) => {
    track(client);
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      // CONNECT: fixed header, remaining length (1-4 bytes), "\0\4MQTT", then the level byte.
      let at = 1;
      while (at < head.length && (head[at]! & 0x80) !== 0) at += 1;
      const levelAt = at + 1 + 6;
      if (head.length <= levelAt) return;
      client.off('data', onData);
      const level = head[levelAt]!;
      levels.push(level);
      if (level === 5) return; // held open, never answered
      const upstream = connect(targetPort, '127.0.0.1');
      track(upstream);
      upstream.write(head);
      client.pipe(upstream).pipe(client);
      client.once('close', () => upstream.destroy());
      upstream.once('close', () => client.destroy());
    };
    client.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `mqtt://127.0.0.1:${port}`,
    levels,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}
