import { request, type ClientRequest } from 'node:http';

/**
 * Open event streams (SPEC §11) held against a gateway while the exchange
 * is measured: `count` SSE connections, each reading (and dropping) its
 * heartbeats, so the bench shows what the streams cost the exchange.
 */
export interface OpenStreams {
  /** Streams whose response head arrived with 200. */
  readonly open: () => number;
  /** Heartbeat and event bytes read so far, across every stream. */
  readonly bytes: () => number;
  close(): void;
}

export async function openEventStreams(port: number, apiKey: string, count: number): Promise<OpenStreams> {
  const requests: ClientRequest[] = [];
  let open = 0;
  let bytes = 0;
  await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<void>((resolve, reject) => {
          const req = request(
            { host: '127.0.0.1', port, path: '/live_api/s2s/v1/events/stream', headers: { 'x-api-key': apiKey, accept: 'text/event-stream' }, agent: false },
            (res) => {
              if (res.statusCode !== 200) {
                reject(new Error(`event stream: ${res.statusCode}`));
                return;
              }
              open++;
              res.on('data', (chunk: Buffer) => (bytes += chunk.length));
              res.on('error', () => undefined);
              resolve();
            },
          );
          req.on('error', (err) => (open === count ? undefined : reject(err)));
          req.end();
          requests.push(req);
        }),
    ),
  );
  return {
    open: () => open,
    bytes: () => bytes,
    close: () => {
      for (const req of requests) req.destroy();
    },
  };
}
