import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import request from 'supertest';
import { adminClient, startGateway, verificationTokenFor, type Provisioned, type TestGateway } from '../support/gateway';
import { generateCredential } from '../../src/domain/credentials';
import {
  createVerigateClient,
  DEFAULT_BASE_URLS,
  requireVerifiedUser,
  VerigateApiError,
  VerigateError,
  type VerigateClient,
} from '@verigate/node';
import { parseRetryAfter, RETRY_BASE_DELAY_MS, retryDelayMs } from '../../packages/node/src/retry';

let gw: TestGateway;
let admin: ReturnType<typeof adminClient>;
let live: Provisioned;
let sandbox: Provisioned;
let sessionToken: string;
let token: string;
let client: VerigateClient;

beforeAll(async () => {
  gw = await startGateway();
  admin = adminClient(gw, 'live');
  live = await admin.provisionSite();
  sandbox = await adminClient(gw, 'sandbox').provisionSite();
  await admin.putUser(live.siteId, 'ada', {
    email: 'ada@example.com',
    name: 'Ada',
    attributes: { plan: 'pro' },
    productAccess: [{ productId: 'reports', expiresAt: null }],
  });
  sessionToken = await admin.createSession(live.siteId, 'ada');
  token = await verificationTokenFor(gw, 'live', sessionToken);
  client = createVerigateClient({ apiKey: live.apiKey, baseUrl: gw.urls.live });
});
afterAll(() => gw.close());

/** Resolves with what the promise rejected with, failing when it resolves. */
async function rejectionOf(promise: Promise<unknown>): Promise<VerigateError> {
  try {
    await promise;
  } catch (err) {
    return err as VerigateError;
  }
  throw new Error('expected a rejection');
}

function thrownBy(fn: () => unknown): VerigateError {
  try {
    fn();
  } catch (err) {
    return err as VerigateError;
  }
  throw new Error('expected a throw');
}

/** A fetch that counts calls and then does the real thing. */
function countingFetch() {
  const calls: string[] = [];
  const fetchFn: typeof fetch = (input, init) => {
    calls.push(String(input));
    return fetch(input, init);
  };
  return { calls, fetch: fetchFn };
}

describe('verifyUser', () => {
  it('answers a verified user, typed as openapi says', async () => {
    const result = await client.verifyUser(token);
    expect(result).toMatchObject({
      isAuthenticated: true,
      environment: 'live',
      userInfo: {
        userId: 'ada',
        email: 'ada@example.com',
        name: 'Ada',
        attributes: { plan: 'pro' },
        productAccess: [{ productId: 'reports', expiresAt: null }],
      },
    });
    if (!result.isAuthenticated) throw new Error('unreachable');
    expect(result.sessionId).toMatch(/^sess_/);
    expect(result).not.toHaveProperty('hasProductAccess');
  });

  it.each([
    ['reports', true],
    ['analytics', false],
  ])('answers hasProductAccess for %s as %s', async (productId, expected) => {
    const result = await client.verifyUser(token, { productId });
    expect(result.isAuthenticated && result.hasProductAccess).toBe(expected);
  });

  it('answers not verified with the reason, without throwing', async () => {
    expect(await client.verifyUser('not-a-jwt')).toEqual({
      isAuthenticated: false,
      environment: 'live',
      userInfo: null,
      reason: 'token_malformed',
    });
    const st = await admin.createSession(live.siteId, 'ada');
    const t = await verificationTokenFor(gw, 'live', st);
    expect((await client.verifyUser(t)).isAuthenticated).toBe(true);
    await gw.http('live').delete('/live_api/v1/session').set('Authorization', `Bearer ${st}`);
    expect(await client.verifyUser(t)).toMatchObject({ isAuthenticated: false, reason: 'session_ended' });
  });

  it('works in sandbox with a sandbox key', async () => {
    const sb = adminClient(gw, 'sandbox');
    await sb.putUser(sandbox.siteId, 'bob');
    const t = await verificationTokenFor(gw, 'sandbox', await sb.createSession(sandbox.siteId, 'bob'));
    const sbClient = createVerigateClient({ apiKey: sandbox.apiKey, sandbox: true, baseUrl: gw.urls.sandbox });
    expect(sbClient.environment).toBe('sandbox');
    expect(await sbClient.verifyUser(t)).toMatchObject({ isAuthenticated: true, environment: 'sandbox', userInfo: { userId: 'bob' } });
  });

  it('throws TypeError on misuse', async () => {
    await expect(client.verifyUser(undefined as unknown as string)).rejects.toThrow(TypeError);
    expect(() => createVerigateClient({} as never)).toThrow(TypeError);
    expect(() => createVerigateClient({ apiKey: live.apiKey, timeoutMs: 0 })).toThrow(TypeError);
    expect(() => createVerigateClient({ apiKey: live.apiKey, baseUrl: 'not a url' })).toThrow(TypeError);
  });
});

describe('environment mix-ups', () => {
  it('refuses a sandbox key against the live base URL before sending anything', () => {
    const counter = countingFetch();
    const err = thrownBy(() =>
      createVerigateClient({ apiKey: sandbox.apiKey, baseUrl: DEFAULT_BASE_URLS.live, fetch: counter.fetch }),
    );
    expect(err).toBeInstanceOf(VerigateError);
    expect(err.code).toBe('api_key_wrong_environment');
    expect(err.message).toMatch(/sandbox key .* live gateway/);
    expect(counter.calls).toHaveLength(0);
  });

  it.each([
    ['a sandbox key with sandbox: false', () => ({ apiKey: sandbox.apiKey, sandbox: false })],
    ['a live key with sandbox: true', () => ({ apiKey: live.apiKey, sandbox: true })],
    ['a live key against the default sandbox URL', () => ({ apiKey: live.apiKey, baseUrl: 'http://localhost:8081/' })],
    ['a live key against a sandbox host', () => ({ apiKey: live.apiKey, baseUrl: 'https://api-sandbox.example.com' })],
  ])('refuses %s', (_what, options) => {
    expect(thrownBy(() => createVerigateClient(options()))).toMatchObject({ code: 'api_key_wrong_environment' });
  });

  it('picks the default base URL of the key environment', () => {
    expect(createVerigateClient({ apiKey: sandbox.apiKey })).toMatchObject({
      environment: 'sandbox',
      baseUrl: DEFAULT_BASE_URLS.sandbox,
    });
    expect(createVerigateClient({ apiKey: live.apiKey, sandbox: false }).baseUrl).toBe(DEFAULT_BASE_URLS.live);
  });

  it.each([
    ['a publishable key', () => live.publishableKey, /publishable key/],
    ['a typo', () => `${live.apiKey.slice(0, 20)}${live.apiKey[20] === 'X' ? 'Y' : 'X'}${live.apiKey.slice(21)}`, /typo/],
    ['a truncated key', () => live.apiKey.slice(0, -1), /typo/],
  ])('refuses %s as apiKey with invalid_api_key', (_what, apiKey, message) => {
    const err = thrownBy(() => createVerigateClient({ apiKey: apiKey() }));
    expect(err).toMatchObject({ code: 'invalid_api_key' });
    expect(err.message).toMatch(message);
  });

  it('reports the gateway verdict when the URL does not say its environment', async () => {
    // gw.urls.sandbox is 127.0.0.1:<port>: only the gateway can tell.
    const mixed = createVerigateClient({ apiKey: live.apiKey, baseUrl: gw.urls.sandbox });
    const err = await rejectionOf(mixed.verifyUser(token));
    expect(err).toBeInstanceOf(VerigateApiError);
    expect(err).toMatchObject({ code: 'api_key_wrong_environment', httpStatus: 401 });
    expect((err as VerigateApiError).requestId).toEqual(expect.any(String));
  });
});

describe('retries', () => {
  type Behaviour = (req: IncomingMessage, res: ServerResponse, n: number) => boolean;
  let server: Server;
  let url: string;
  let hits = 0;
  let behaviour: Behaviour = () => false;

  /** Relays to the real gateway unless `behaviour` answered itself. */
  beforeAll(async () => {
    server = createServer(async (req, res) => {
      hits += 1;
      if (behaviour(req, res, hits)) return;
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const upstream = await fetch(`${gw.urls.live}${req.url}`, {
        method: req.method,
        headers: { 'content-type': 'application/json', 'x-api-key': String(req.headers['x-api-key'] ?? '') },
        body: Buffer.concat(chunks),
      });
      res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'text/plain' });
      res.end(Buffer.from(await upstream.arrayBuffer()));
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((ok) => server.close(ok));
  });
  beforeEach(() => {
    hits = 0;
  });

  const unavailable = (retryAfter = '0'): Behaviour => (_req, res) => {
    res.writeHead(503, { 'content-type': 'application/problem+json', 'retry-after': retryAfter, 'x-request-id': 'req-503' });
    res.end(JSON.stringify({ type: 'urn:verigate:error:store_unavailable', title: 'x', status: 503, code: 'store_unavailable', requestId: 'req-503' }));
    return true;
  };

  it('retries a 503 and succeeds when the gateway recovers', async () => {
    const down = unavailable();
    behaviour = (req, res, n) => n <= 2 && down(req, res, n);
    const result = await createVerigateClient({ apiKey: live.apiKey, baseUrl: url, retries: 2 }).verifyUser(token);
    expect(result.isAuthenticated).toBe(true);
    expect(hits).toBe(3);
  });

  it('gives up after `retries` with the typed 503', async () => {
    behaviour = unavailable();
    const err = await rejectionOf(createVerigateClient({ apiKey: live.apiKey, baseUrl: url, retries: 3 }).verifyUser(token));
    expect(err).toBeInstanceOf(VerigateApiError);
    expect(err).toMatchObject({ code: 'store_unavailable', httpStatus: 503, requestId: 'req-503', retryAfterSeconds: 0, transient: true });
    expect(hits).toBe(4);
  });

  it('retries a network error (connection reset)', async () => {
    behaviour = (req, _res, n) => {
      if (n !== 1) return false;
      req.socket.destroy();
      return true;
    };
    expect((await createVerigateClient({ apiKey: live.apiKey, baseUrl: url }).verifyUser(token)).isAuthenticated).toBe(true);
    expect(hits).toBe(2);
  });

  it('reports network_error when nothing listens', async () => {
    const closed = createServer();
    await new Promise<void>((ok) => closed.listen(0, '127.0.0.1', ok));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((ok) => closed.close(ok));
    const counter = countingFetch();
    const err = await rejectionOf(
      createVerigateClient({ apiKey: live.apiKey, baseUrl: `http://127.0.0.1:${port}`, retries: 1, fetch: counter.fetch }).verifyUser(token),
    );
    expect(err).toBeInstanceOf(VerigateError);
    expect(err).toMatchObject({ code: 'network_error', transient: true });
    expect(counter.calls).toHaveLength(2);
  });

  it('reports timeout when the gateway does not answer in time', async () => {
    behaviour = () => true; // never answers
    const err = await rejectionOf(
      createVerigateClient({ apiKey: live.apiKey, baseUrl: url, timeoutMs: 100, retries: 0 }).verifyUser(token),
    );
    expect(err).toMatchObject({ code: 'timeout' });
  });

  it('does not retry a 401', async () => {
    behaviour = () => false;
    const unknownKey = generateCredential('live', 'sk');
    const err = await rejectionOf(createVerigateClient({ apiKey: unknownKey, baseUrl: url, retries: 3 }).verifyUser(token));
    expect(err).toBeInstanceOf(VerigateApiError);
    expect(err).toMatchObject({ code: 'invalid_api_key', httpStatus: 401, transient: false });
    expect(hits).toBe(1);
  });

  it('reports unexpected_response for an answer that is not the gateway', async () => {
    behaviour = (_req, res) => {
      res.writeHead(502, { 'content-type': 'text/html' });
      res.end('<html>Bad gateway</html>');
      return true;
    };
    const err = await rejectionOf(createVerigateClient({ apiKey: live.apiKey, baseUrl: url, retries: 1 }).verifyUser(token));
    expect(err).toMatchObject({ code: 'unexpected_response', httpStatus: 502 });
    expect(hits).toBe(2); // a proxy's 502 is retried like a 503
  });
});

describe('requireVerifiedUser', () => {
  let errors: unknown[];
  const appWith = (verigate: VerigateClient) => {
    const app = express();
    app.get('/me', requireVerifiedUser(verigate), (req, res) => {
      res.json({ userId: req.verigateUser?.userInfo.userId });
    });
    app.get('/reports', requireVerifiedUser(verigate, { productId: 'reports' }), (req, res) => {
      res.json({ userId: req.verigateUser?.userInfo.userId, hasProductAccess: req.verigateUser?.hasProductAccess });
    });
    app.get('/analytics', requireVerifiedUser(verigate, { productId: 'analytics' }), (_req, res) => {
      res.json({ ok: true });
    });
    app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
      errors.push(err);
      res.status(500).json({ error: 'internal' });
    });
    return app;
  };
  beforeEach(() => {
    errors = [];
  });

  it('200 with req.verigateUser for a verified token', async () => {
    const app = appWith(client);
    const res = await request(app).get('/me').set('Authorization', `Bearer ${token}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ userId: 'ada' });
    const reports = await request(app).get('/reports').set('Authorization', `bearer  ${token}`);
    expect(reports.body).toEqual({ userId: 'ada', hasProductAccess: true });
  });

  it('401 problem+json without a bearer token', async () => {
    const res = await request(appWith(client)).get('/me');
    expect(res.status).toBe(401);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.headers['www-authenticate']).toBe('Bearer');
    expect(res.body).toMatchObject({ status: 401, code: 'not_authenticated', reason: 'missing_token' });
    const basic = await request(appWith(client)).get('/me').set('Authorization', 'Basic abc');
    expect(basic.body).toMatchObject({ code: 'not_authenticated', reason: 'missing_token' });
  });

  it('401 with the gateway reason for a token that does not verify', async () => {
    const res = await request(appWith(client)).get('/me').set('Authorization', 'Bearer nope');
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ code: 'not_authenticated', reason: 'token_malformed' });
  });

  it('403 when the product is missing', async () => {
    const res = await request(appWith(client)).get('/analytics').set('Authorization', `Bearer ${token}`);
    expect(res.status).toBe(403);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({ status: 403, code: 'product_access_required', productId: 'analytics' });
  });

  it('503 (fails closed) when the gateway cannot be reached', async () => {
    const down = createVerigateClient({ apiKey: live.apiKey, baseUrl: 'http://127.0.0.1:9', retries: 0 });
    const res = await request(appWith(down)).get('/me').set('Authorization', `Bearer ${token}`);
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ code: 'verification_unavailable' });
    expect(res.headers['retry-after']).toBe('1');
  });

  it('answers 500 verification_misconfigured, never 401, for a key the gateway refuses', async () => {
    const lines: string[] = [];
    const misconfigured = createVerigateClient({ apiKey: generateCredential('live', 'sk'), baseUrl: gw.urls.live });
    const app = express();
    app.get('/me', requireVerifiedUser(misconfigured, { logger: { error: (line) => lines.push(line) } }), (_req, res) => {
      res.json({ reached: true });
    });
    const res = await request(app).get('/me').set('Authorization', `Bearer ${token}`);
    expect(res.status).toBe(500);
    expect(res.body).toMatchObject({ status: 500, code: 'verification_misconfigured' });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/invalid_api_key/);
  });

  it('throws TypeError without a client', () => {
    expect(() => requireVerifiedUser(undefined as unknown as VerigateClient)).toThrow(TypeError);
  });
});

describe('parseRetryAfter and retryDelayMs', () => {
  const NOW = Date.UTC(2026, 0, 1, 0, 0, 0);

  it.each([
    ['0', 0],
    ['30', 30],
    [' 7 ', 7],
    ['Thu, 01 Jan 2026 00:00:30 GMT', 30],
    ['Thu, 01 Jan 2026 00:00:00 GMT', 0],
    // A date in the past is "now", not a negative wait.
    ['Wed, 31 Dec 2025 23:59:00 GMT', 0],
  ])('reads %j as %d s (the clock at 2026-01-01T00:00:00Z)', (value, seconds) => {
    expect(parseRetryAfter(value, NOW)).toBe(seconds);
  });

  it.each([[null], ['soon'], ['']])('reads %j as no Retry-After', (value) => {
    expect(parseRetryAfter(value, NOW)).toBeNull();
  });

  it('takes Retry-After as given, in ms, up to the cap', () => {
    expect(retryDelayMs(0, 1, 2000)).toBe(1000);
    expect(retryDelayMs(3, 0, 2000)).toBe(0);
    expect(retryDelayMs(0, 30, 150)).toBe(150);
  });

  it('without Retry-After, backs off exponentially with half of each step random, never past the cap', () => {
    for (let i = 0; i < 200; i++) {
      const first = retryDelayMs(0, null, 2000);
      expect(first).toBeGreaterThanOrEqual(RETRY_BASE_DELAY_MS / 2);
      expect(first).toBeLessThanOrEqual(RETRY_BASE_DELAY_MS);
      const third = retryDelayMs(2, null, 2000);
      expect(third).toBeGreaterThanOrEqual(2 * RETRY_BASE_DELAY_MS);
      expect(third).toBeLessThanOrEqual(4 * RETRY_BASE_DELAY_MS);
      const capped = retryDelayMs(10, null, 300);
      expect(capped).toBeGreaterThanOrEqual(150);
      expect(capped).toBeLessThanOrEqual(300);
    }
  });
});
