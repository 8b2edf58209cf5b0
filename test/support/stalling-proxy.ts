import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An HTTP proxy in front of a gateway listener, for local-verification
 * tests: `stallStreams()` stops passing on the bytes of every open event
 * stream (the socket stays open, as with a hung load balancer);
 * `unreachable()` makes it drop every request and connection, as if the
 * gateway were gone.
 */
export interface StallingProxy {
  readonly url: string;
  stallStreams(): void;
  unreachable(): void;
  /** Passes everything again (stalled streams stay stalled: their clients reconnect). */
  restore(): void;
  close(): Promise<void>;
}

export async function startStallingProxy(target: string): Promise<StallingProxy> {
  const upstream = new URL(target);
  let stalled = false;
  let down = false;
  const streams = new Set<IncomingMessage>();
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (down) {
      req.socket.destroy();
      return;
    }
    const out = request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers, agent: false },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        if (String(answer.headers['content-type'] ?? '').startsWith('text/event-stream')) {
          if (stalled) return; // opened, then silent
          streams.add(answer);
          answer.on('data', (chunk: Buffer) => {
            if (!stalled) res.write(chunk);
          });
          answer.on('end', () => res.end());
          res.on('close', () => {
            streams.delete(answer);
            answer.destroy();
          });
          return;
        }
        answer.pipe(res);
      },
    );
    out.on('error', () => res.destroy());
    req.pipe(out);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stallStreams: () => {
      stalled = true;
    },
    unreachable: () => {
      down = true;
      server.closeAllConnections();
    },
    restore: () => {
      stalled = false;
      down = false;
    },
    close: async () => {
      for (const s of streams) s.destroy();
      server.closeAllConnections();
      await new Promise((done) => server.close(done));
    },
  };
}
