import { createSecretKey } from 'node:crypto';
import net from 'node:net';
import { SignJWT } from 'jose';
import { createLogger } from '../../src/ops/logger';
import { adminClient, checked, startGateway, type Provisioned, type TestGateway } from '../support/gateway';
import { expectResponseToMatchSpec } from '../support/openapi';
import { pollUntil } from '../support/poll';

/**
 * SPEC §7's HTTP limits, from raw sockets: a 413 closes the connection
 * without reading the rest of the body; headers and bodies that do not
 * arrive in time are 408; Node's own refusals (malformed, headers too
 * large) are problem+json; a client that goes away is not an error. The
 * timeouts are shortened for the test (GatewayOptions.httpTimeouts: SPEC's
 * 10 s each by default) and awaited as the server's answer, never slept on.
 */

jest.setTimeout(30_000);

interface RawReply {
  status: number;
  headers: Record<string, string>;
  text: string;
  body: Record<string, unknown>;
  /** The server closed the connection (we never closed it first). */
  closedByServer: boolean;
}

/**
 * Opens a connection to `base`, writes `parts` (nothing more, and the
 * connection stays open from our side), and resolves with the answer once
 * the server has closed the connection.
 */
function raw(base: string, parts: (string | Buffer)[]): Promise<RawReply> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: hostname, port: Number(port) });
    const received: Buffer[] = [];
    let closedByServer = false;
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    socket.on('end', () => (closedByServer = true));
    // A write after the server closed may fail (EPIPE/ECONNRESET): the answer is still what it sent.
    socket.on('error', () => undefined);
    socket.on('close', () => {
      const all = Buffer.concat(received).toString('utf8');
      const split = all.indexOf('\r\n\r\n');
      if (split < 0) {
        reject(new Error(`no HTTP answer before the connection closed: ${JSON.stringify(all)}`));
        return;
      }
      const [statusLine, ...headerLines] = all.slice(0, split).split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of headerLines) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      const text = all.slice(split + 4);
      resolve({
        status: Number(statusLine?.split(' ')[1]),
        headers,
        text,
        body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
        closedByServer,
      });
    });
    socket.on('connect', () => {
      for (const part of parts) socket.write(part);
    });
  });
}

function expectProblem(reply: RawReply, status: number, code: string): void {
  expect(reply.status).toBe(status);
  expect(reply.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(reply.body).toMatchObject({ status, code, type: `urn:verigate:error:${code}` });
  expect(reply.headers['x-request-id']).toBe(reply.body.requestId);
  expect(reply.headers['cache-control']).toBe('no-store');
  expect(reply.headers.connection).toBe('close');
  expect(reply.closedByServer).toBe(true);
}

const head = (method: string, path: string, headers: Record<string, string | number>): string =>
  `${method} ${path} HTTP/1.1\r\nHost: gateway.test\r\n${Object.entries(headers)
    .map(([n, v]) => `${n}: ${v}\r\n`)
    .join('')}\r\n`;

const EXCHANGE = '/live_api/s2s/v1/users/verification';
const SIGN_IN = '/live_api/v1/sessions';

describe('HTTP limits', () => {
  let gw: TestGateway;
  let site: Provisioned;
  const lines: Record<string, unknown>[] = [];

  beforeAll(async () => {
    const log = createLogger({ level: 'info', destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) } });
    gw = await startGateway({ log, httpTimeouts: { headersMs: 300, requestMs: 300 } });
    site = await adminClient(gw, 'live').provisionSite();
  });
  afterAll(() => gw?.close());

  describe('413: the connection is closed, the rest of the body never read', () => {
    it.each([
      ['the exchange (fast lane)', EXCHANGE],
      ['sign-in (Express)', SIGN_IN],
    ])('%s, a declared Content-Length over the limit: answered before the body, then closed', async (_way, path) => {
      const reply = await raw(gw.urls.live, [
        head('POST', path, { 'Content-Type': 'application/json', 'Content-Length': 10_000_000, 'X-API-KEY': site.apiKey }),
        '{"userVerificationToken": "',
      ]);
      expectProblem(reply, 413, 'payload_too_large');
      expectResponseToMatchSpec(reply, 'POST', path);
    });

    it.each([
      ['the exchange (fast lane)', EXCHANGE],
      ['sign-in (Express)', SIGN_IN],
    ])('%s, a chunked body that grows past the limit: cut off and closed', async (_way, path) => {
      const chunk = 'x'.repeat(20 * 1024);
      const reply = await raw(gw.urls.live, [
        head('POST', path, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked', 'X-API-KEY': site.apiKey }),
        `${chunk.length.toString(16)}\r\n${chunk}\r\n`,
      ]);
      expectProblem(reply, 413, 'payload_too_large');
    });
  });

  describe('408 request_timeout (timeouts shortened for the test)', () => {
    it('headers that never finish: 408 problem+json from the parser, logged with the peer address', async () => {
      const reply = await raw(gw.urls.live, [`POST ${SIGN_IN} HTTP/1.1\r\nHost: gateway.test\r\nContent-Type: appl`]);
      expectProblem(reply, 408, 'request_timeout');
      const line = await pollUntil(async () => lines.find((l) => l.requestId === reply.body.requestId), Boolean, { what: 'the 408 log line' });
      expect(line).toMatchObject({ level: 'info', status: 408, code: 'request_timeout', clientAddress: '127.0.0.1' });
    });

    it.each([
      ['the exchange (fast lane)', EXCHANGE, EXCHANGE],
      ['sign-in (Express)', SIGN_IN, SIGN_IN],
    ])('%s: a body that never finishes is 408 through the pipeline (its request id, its log line)', async (_way, path, route) => {
      const reply = await raw(gw.urls.live, [
        head('POST', path, { 'Content-Type': 'application/json', 'Content-Length': 100, 'X-API-KEY': site.apiKey }),
        '{"userVeri',
      ]);
      expectProblem(reply, 408, 'request_timeout');
      expectResponseToMatchSpec(reply, 'POST', path);
      const line = await pollUntil(async () => lines.find((l) => l.msg === 'request' && l.requestId === reply.body.requestId), Boolean, {
        what: 'the 408 request line',
      });
      expect(line).toMatchObject({ level: 'info', status: 408, code: 'request_timeout', route, clientAddress: '127.0.0.1' });
    });
  });

  describe("Node's own refusals as problem+json", () => {
    it.each(['live', 'admin'] as const)('400 invalid_request for a request that is not HTTP (%s listener)', async (listener) => {
      const reply = await raw(gw.urls[listener], ['THIS IS NOT HTTP\r\n\r\n']);
      expectProblem(reply, 400, 'invalid_request');
    });

    it('400 invalid_request for a malformed header', async () => {
      const reply = await raw(gw.urls.live, ['GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n']);
      expectProblem(reply, 400, 'invalid_request');
    });

    it('431 headers_too_large for headers over 16 KiB', async () => {
      const reply = await raw(gw.urls.live, [head('GET', '/healthz', { 'X-Padding': 'a'.repeat(20 * 1024) })]);
      expectProblem(reply, 431, 'headers_too_large');
      const line = await pollUntil(async () => lines.find((l) => l.requestId === reply.body.requestId), Boolean, { what: 'the 431 log line' });
      expect(line).toMatchObject({ level: 'info', status: 431, code: 'headers_too_large' });
    });
  });

  it('a client that goes away mid-body is logged at info, never as an error with a stack', async () => {
    const before = lines.length;
    await new Promise<void>((done) => {
      const { hostname, port } = new URL(gw.urls.live);
      const socket = net.connect({ host: hostname, port: Number(port) }, () => {
        socket.write(head('POST', SIGN_IN, { 'Content-Type': 'application/json', 'Content-Length': 100 }));
        socket.write('{"publishableKey"', () => setImmediate(() => socket.destroy()));
      });
      socket.on('close', () => done());
      socket.on('error', () => undefined);
    });
    const gone = await pollUntil(async () => lines.slice(before).find((l) => l.msg === 'client closed the request'), Boolean, {
      what: 'the client-gone log line',
    });
    expect(gone).toMatchObject({ level: 'info', route: SIGN_IN, clientAddress: '127.0.0.1' });
    expect(lines.slice(before).filter((l) => l.level === 'error')).toEqual([]);
  });
});

describe('user ids must be well-formed Unicode', () => {
  let gw: TestGateway;
  let site: Provisioned;

  beforeAll(async () => {
    gw = await startGateway();
    site = await adminClient(gw, 'live').provisionSite();
  });
  afterAll(() => gw?.close());

  const signInAs = async (claims: Record<string, unknown>) => {
    const now = Math.floor(gw.clock.now() / 1000);
    const identityToken = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuedAt(now)
      .setExpirationTime(now + 300)
      .sign(createSecretKey(Buffer.from(site.identitySecret)));
    return checked(await gw.http('live').post(SIGN_IN).send({ publishableKey: site.publishableKey, identityToken }));
  };

  it.each([
    ['a lone high surrogate in sub', { sub: 'user-\ud800' }],
    ['a lone low surrogate in userId', { userId: '\udc00' }],
    ['reversed surrogates in user.id', { user: { id: '\udc00\ud800' } }],
  ])('sign-in refuses %s: 401 invalid_identity_token, reason malformed', async (_what, claims) => {
    const res = await signInAs(claims);
    expect([res.status, res.body.code, res.body.reason]).toEqual([401, 'invalid_identity_token', 'malformed']);
  });

  it('a well-formed astral user id (a surrogate pair) signs in', async () => {
    const res = await signInAs({ sub: 'user-\u{1F600}' });
    expect(res.status).toBe(201);
    expect(res.body.user.userId).toBe('user-\u{1F600}');
  });

  it('admin: a user id that is not UTF-8 in the path (a surrogate, CESU-encoded) is 400 invalid_request', async () => {
    const res = checked(
      await gw
        .http('admin')
        .put(`/admin/v1/live/sites/${site.siteId}/users/user-%ED%A0%80`)
        .set('Authorization', `Bearer ${gw.adminToken}`)
        .send({}),
    );
    expect([res.status, res.body.code]).toEqual([400, 'invalid_request']);
  });
});
