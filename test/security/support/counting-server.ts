import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface CountingServer {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  /** Every request received since the last call, as `METHOD path`; clears the list. */
  takeRequests(): string[];
  close(): Promise<void>;
}

/**
 * A loopback HTTP server that answers every request with `body` (JSON) and
 * remembers it: the attacker's `jku` / `x5u` host, to prove nobody called it.
 */
export async function startCountingServer(body: unknown): Promise<CountingServer> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify(body));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    takeRequests: () => requests.splice(0, requests.length),
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}
