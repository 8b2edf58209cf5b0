import net from 'node:net';
import { adminClient, startGateway, verificationTokenFor, type TestGateway } from '../support/gateway';

/**
 * The gateway's drain (what SIGTERM runs, src/gateway.ts): a request in
 * flight on a keep-alive connection is answered in full, told to close its
 * connection, and the drain resolves once it is done. (test/e2e/sigterm.test.ts
 * runs the same on the built server, under load.)
 */

let gw: TestGateway;

beforeAll(async () => {
  gw = await startGateway();
});
afterAll(() => gw.close());

/** A raw HTTP/1.1 connection (keep-alive by default): what the server sends, and when it closes. */
function connect(port: number) {
  const socket = net.connect({ host: '127.0.0.1', port });
  let received = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => (received += chunk));
  const closed = new Promise<void>((ok) => socket.once('close', () => ok()));
  const connected = new Promise<void>((ok, fail) => {
    socket.once('connect', () => ok());
    socket.once('error', fail);
  });
  const write = (text: string) => new Promise<void>((ok) => socket.write(text, () => ok()));
  return { connected, closed, write, received: () => received };
}

it('answers a request in flight in full, with Connection: close, and resolves once it is done', async () => {
  const admin = adminClient(gw, 'live');
  const site = await admin.provisionSite();
  await admin.putUser(site.siteId, 'user-1');
  const token = await verificationTokenFor(gw, 'live', await admin.createSession(site.siteId, 'user-1'));
  const port = Number(new URL(gw.urls.live).port);

  const body = JSON.stringify({ userVerificationToken: token });
  const half = Math.floor(body.length / 2);
  const conn = connect(port);
  await conn.connected;
  // The whole head and half the body: the request is under way, not complete.
  await conn.write(
    `POST /live_api/s2s/v1/users/verification HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
      `X-API-KEY: ${site.apiKey}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, half)}`,
  );
  // A barrier: once this is answered, the server has read what was sent before it.
  expect((await gw.http('live').get('/healthz')).status).toBe(200);

  let drained = false;
  const drain = gw.gateway.drain().then(() => (drained = true));
  expect(gw.gateway.draining).toBe(true);
  await conn.write(body.slice(half));
  await conn.closed;
  const [head, answer] = conn.received().split('\r\n\r\n') as [string, string];
  expect(head).toMatch(/^HTTP\/1\.1 200 /);
  expect(head.toLowerCase()).toContain('\r\nconnection: close');
  expect(JSON.parse(answer)).toMatchObject({ isAuthenticated: true });
  await drain;
  expect(drained).toBe(true);
});
