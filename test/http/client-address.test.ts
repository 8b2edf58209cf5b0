import { createSecretKey, randomUUID } from 'node:crypto';
import http from 'node:http';
import { SignJWT } from 'jose';
import { createLogger } from '../../src/ops/logger';
import { adminClient, startGateway, type GatewayOptions, type Provisioned, type TestGateway } from '../support/gateway';
import { startForwardingProxy, type ForwardingProxy } from '../support/forwarding-proxy';
import { expectResponseToMatchSpec } from '../support/openapi';
import { generateCredential } from '../../src/domain/credentials';

/**
 * The client address (SPEC §7 TRUST_PROXY), as the gateway settles it once
 * per request (src/http/client-address.ts, in the pipeline), seen through
 * what depends on it: every per-address limit and the log line. A real
 * proxy process (test/support/forwarding-proxy-process.mjs) stands in for the load
 * balancer; clients are told apart by their loopback source address
 * (127.0.0.2, 127.0.0.3, …).
 */

jest.setTimeout(30_000);

type Reply = { status: number; headers: http.IncomingHttpHeaders; body: Record<string, unknown> };

/** One request from `localAddress` (default 127.0.0.1), checked against openapi.yaml. */
async function send(
  base: string,
  method: string,
  path: string,
  { from = '127.0.0.1', headers = {}, body }: { from?: string; headers?: Record<string, string>; body?: unknown } = {},
): Promise<Reply> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const { status, resHeaders, text } = await new Promise<{ status: number; resHeaders: http.IncomingHttpHeaders; text: string }>((resolve, reject) => {
    const req = http.request(
      new URL(path, base),
      {
        method,
        localAddress: from,
        agent: false,
        headers: { ...(payload !== undefined && { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(payload)) }), ...headers },
      },
      (res) => {
        let received = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (received += chunk));
        res.on('error', reject);
        res.on('end', () => resolve({ status: res.statusCode ?? 0, resHeaders: res.headers, text: received }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
  const reply = { status, headers: resHeaders, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  expectResponseToMatchSpec({ ...reply, text }, method, path);
  return reply;
}

/** A fresh, valid identity token for `site` (its own jti: never a replay). */
async function identityToken(site: Provisioned, sub: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setJti(randomUUID())
    .setIssuedAt(now)
    .setExpirationTime(now + 300)
    .sign(createSecretKey(Buffer.from(site.identitySecret)));
}

/** A gateway whose log lines the test reads, and a site on it. */
async function gatewayWithLog(options: GatewayOptions) {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({ level: 'info', destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) } });
  const gw = await startGateway({ ...options, log, clock: undefined });
  const site = await adminClient(gw, 'live').provisionSite();
  return { gw, site, lines };
}

const statuses = (replies: Reply[]): number[] => replies.map((r) => r.status);
const requestLine = (lines: Record<string, unknown>[], requestId: unknown) => lines.find((l) => l.msg === 'request' && l.requestId === requestId);

describe('without TRUST_PROXY: the TCP peer is the client, X-Forwarded-For is ignored', () => {
  let gw: TestGateway;
  let site: Provisioned;
  let lines: Record<string, unknown>[];
  let proxy: ForwardingProxy;

  beforeAll(async () => {
    ({ gw, site, lines } = await gatewayWithLog({ rateLimits: { signInPerIp: { points: 3, durationSeconds: 60 } } }));
    proxy = await startForwardingProxy(gw.urls.live);
  });
  afterAll(async () => {
    await proxy?.stop();
    await gw?.close();
  });

  const signIn = async (base: string, from: string, sub: string, headers: Record<string, string> = {}) =>
    send(base, 'POST', '/live_api/v1/sessions', { from, headers, body: { publishableKey: site.publishableKey, identityToken: await identityToken(site, sub) } });

  it('a spoofed X-Forwarded-For changes no one’s bucket: a new value each time does not buy a new allowance', async () => {
    const replies: Reply[] = [];
    for (let i = 0; i < 4; i++) replies.push(await signIn(gw.urls.live, '127.0.0.4', `s${i}`, { 'X-Forwarded-For': `198.51.100.${i + 1}` }));
    expect(statuses(replies)).toEqual([201, 201, 201, 429]);
    // Nor can it land in someone else's bucket: 127.0.0.5 still has its whole allowance…
    expect((await signIn(gw.urls.live, '127.0.0.5', 'other', { 'X-Forwarded-For': '127.0.0.4' })).status).toBe(201);
    // …and the refusal is logged with the peer's address, not the claimed one.
    const line = requestLine(lines, replies[3]?.body.requestId);
    expect(line).toMatchObject({ level: 'info', status: 429, code: 'rate_limited', clientAddress: '127.0.0.4' });
  });

  it('what a wrong setting costs: behind a proxy, every client is the proxy, and one of them locks all out', async () => {
    const first: Reply[] = [];
    for (let i = 0; i < 3; i++) first.push(await signIn(proxy.url, '127.0.0.6', `p${i}`));
    expect(statuses(first)).toEqual([201, 201, 201]);
    expect((await signIn(proxy.url, '127.0.0.7', 'bystander')).status).toBe(429);
  });
});

describe('TRUST_PROXY=loopback behind a proxy process', () => {
  let gw: TestGateway;
  let site: Provisioned;
  let lines: Record<string, unknown>[];
  let live: ForwardingProxy;
  let admin: ForwardingProxy;

  beforeAll(async () => {
    ({ gw, site, lines } = await gatewayWithLog({
      trustProxy: 'loopback',
      rateLimits: {
        signInPerIp: { points: 3, durationSeconds: 60 },
        failedApiKeyPerIp: { points: 2, durationSeconds: 60 },
        sessionPerIp: { points: 2, durationSeconds: 60 },
        adminFailuresPerIp: { points: 2, durationSeconds: 60 },
      },
    }));
    live = await startForwardingProxy(gw.urls.live);
    admin = await startForwardingProxy(gw.urls.admin);
  });
  afterAll(async () => {
    await live?.stop();
    await admin?.stop();
    await gw?.close();
  });

  const signIn = async (from: string, sub: string) =>
    send(live.url, 'POST', '/live_api/v1/sessions', { from, body: { publishableKey: site.publishableKey, identityToken: await identityToken(site, sub) } });

  it('sign-ins: one client exhausting its budget does not lock out another behind the same proxy', async () => {
    const greedy: Reply[] = [];
    for (let i = 0; i < 4; i++) greedy.push(await signIn('127.0.0.2', `g${i}`));
    expect(statuses(greedy)).toEqual([201, 201, 201, 429]);
    expect(greedy[3]?.headers['retry-after']).toBeDefined();
    expect((await signIn('127.0.0.3', 'polite')).status).toBe(201);
    expect(requestLine(lines, greedy[3]?.body.requestId)).toMatchObject({ code: 'rate_limited', clientAddress: '127.0.0.2' });
  });

  it('refused API keys (the exchange’s fast lane): counted per client behind the proxy', async () => {
    const exchange = (from: string) =>
      send(live.url, 'POST', '/live_api/s2s/v1/users/verification', {
        from,
        headers: { 'X-API-KEY': generateCredential('live', 'sk') },
        body: { userVerificationToken: 'x' },
      });
    const greedy = [await exchange('127.0.0.8'), await exchange('127.0.0.8'), await exchange('127.0.0.8')];
    expect(greedy.map((r) => [r.status, r.body.code])).toEqual([
      [401, 'invalid_api_key'],
      [401, 'invalid_api_key'],
      [429, 'rate_limited'],
    ]);
    expect(requestLine(lines, greedy[2]?.body.requestId)).toMatchObject({ route: '/live_api/s2s/v1/users/verification', clientAddress: '127.0.0.8' });
    expect((await exchange('127.0.0.9')).status).toBe(401);
  });

  it('session reads, sign-outs and token mints (RATE_LIMIT_SESSION_PER_ADDRESS): per client behind the proxy', async () => {
    await adminClient(gw, 'live').putUser(site.siteId, 'reader');
    const sessionToken = await adminClient(gw, 'live').createSession(site.siteId, 'reader');
    const auth = { Authorization: `Bearer ${sessionToken}` };
    const calls = [
      await send(live.url, 'GET', '/live_api/v1/session', { from: '127.0.0.10', headers: auth }),
      await send(live.url, 'POST', '/live_api/v1/users/verification-token', { from: '127.0.0.10', headers: auth }),
      await send(live.url, 'DELETE', '/live_api/v1/session', { from: '127.0.0.10', headers: auth }),
      await send(live.url, 'GET', '/live_api/v1/session', { from: '127.0.0.10' }),
    ];
    expect(calls.map((r) => [r.status, r.body.code])).toEqual([
      [200, undefined],
      [200, undefined],
      [429, 'rate_limited'],
      [429, 'rate_limited'],
    ]);
    // The session is not ended: the sign-out was refused before anything was looked up.
    const other = await send(live.url, 'GET', '/live_api/v1/session', { from: '127.0.0.11', headers: auth });
    expect(other.body).toMatchObject({ isAuthenticated: true });
  });

  it('refused admin tokens on the admin listener: 429 past the limit, the right token still passes, other clients untouched', async () => {
    const call = (from: string, token: string) =>
      send(admin.url, 'GET', '/admin/v1/live/sites', { from, headers: { Authorization: `Bearer ${token}` } });
    const wrong = 'w'.repeat(40);
    const guesses = [await call('127.0.0.12', wrong), await call('127.0.0.12', wrong), await call('127.0.0.12', wrong)];
    expect(guesses.map((r) => [r.status, r.body.code])).toEqual([
      [401, 'unauthorized'],
      [401, 'unauthorized'],
      [429, 'rate_limited'],
    ]);
    expect(requestLine(lines, guesses[2]?.body.requestId)).toMatchObject({ code: 'rate_limited', clientAddress: '127.0.0.12' });
    expect((await call('127.0.0.12', gw.adminToken)).status).toBe(200);
    expect((await call('127.0.0.13', wrong)).status).toBe(401);
    // The console's sign-in counts against the same budget.
    const consoleSignIn = await send(admin.url, 'POST', '/console/api/session', {
      from: '127.0.0.12',
      // The proxy passes the listener's own Host on, so the console's own origin is the listener's.
      headers: { Origin: gw.urls.admin },
      body: { token: wrong },
    });
    expect([consoleSignIn.status, consoleSignIn.body.code]).toEqual([429, 'rate_limited']);
  });
});

describe('TRUST_PROXY=1 (one hop): the proxy’s own entry names the client, whatever the client claims', () => {
  let gw: TestGateway;
  let site: Provisioned;
  let proxy: ForwardingProxy;

  beforeAll(async () => {
    ({ gw, site } = await gatewayWithLog({ trustProxy: '1', rateLimits: { signInPerIp: { points: 2, durationSeconds: 60 } } }));
    proxy = await startForwardingProxy(gw.urls.live);
  });
  afterAll(async () => {
    await proxy?.stop();
    await gw?.close();
  });

  it('a client spoofing X-Forwarded-For through the proxy stays in its own bucket', async () => {
    const replies: Reply[] = [];
    for (let i = 0; i < 3; i++) {
      replies.push(
        await send(proxy.url, 'POST', '/live_api/v1/sessions', {
          from: '127.0.0.20',
          headers: { 'X-Forwarded-For': `203.0.113.${i + 1}` },
          body: { publishableKey: site.publishableKey, identityToken: await identityToken(site, `h${i}`) },
        }),
      );
    }
    expect(statuses(replies)).toEqual([201, 201, 429]);
  });
});

describe('IPv6 clients are counted per /64, logged in full', () => {
  let gw: TestGateway;
  let site: Provisioned;
  let lines: Record<string, unknown>[];

  beforeAll(async () => {
    // The test is the (loopback) proxy here: it names IPv6 clients in X-Forwarded-For.
    ({ gw, site, lines } = await gatewayWithLog({ trustProxy: 'loopback', rateLimits: { signInPerIp: { points: 2, durationSeconds: 60 } } }));
  });
  afterAll(() => gw?.close());

  const signInAs = async (client: string, sub: string) =>
    send(gw.urls.live, 'POST', '/live_api/v1/sessions', {
      headers: { 'X-Forwarded-For': client },
      body: { publishableKey: site.publishableKey, identityToken: await identityToken(site, sub) },
    });

  it('two addresses of one /64 share a bucket; the next /64 has its own', async () => {
    expect((await signInAs('2001:db8:1:2::1', 'a')).status).toBe(201);
    expect((await signInAs('2001:db8:1:2:ffff:ffff:ffff:9', 'b')).status).toBe(201);
    const third = await signInAs('2001:db8:1:2::3', 'c');
    expect(third.status).toBe(429);
    expect(requestLine(lines, third.body.requestId)).toMatchObject({ clientAddress: '2001:db8:1:2::3' });
    expect((await signInAs('2001:db8:1:3::1', 'd')).status).toBe(201);
    // An IPv4-mapped address is its IPv4 address.
    expect((await signInAs('::ffff:192.0.2.1', 'e')).status).toBe(201);
    expect((await signInAs('192.0.2.1', 'f')).status).toBe(201);
    expect((await signInAs('::ffff:192.0.2.1', 'g')).status).toBe(429);
  });
});
