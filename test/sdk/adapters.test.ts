/**
 * The three framework adapters of @verigate/node — Express
 * (`requireVerifiedUser`), Fastify (`verigateFastify`) and fetch-API servers
 * (`authenticateRequest`) — each serving real HTTP against a real gateway
 * on real Redis, with the same answers: 200 with the user, 401 for a token
 * that does not verify, 403 without the product, and for a misconfiguration
 * of the server itself (a revoked key, the other environment's key, an
 * unreachable gateway, a redirect) a 5xx with one log line and no stack
 * trace, never a 401.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import {
  authenticateRequest,
  createVerigateClient,
  requireVerifiedUser,
  type GuardProblem,
  type VerigateClient,
  type VerigateLogger,
} from '@verigate/node';
import { verigateFastify } from '@verigate/node/fastify';
import { adminClient, startGateway, verificationTokenFor, type Provisioned, type TestGateway } from '../support/gateway';
import { freePort } from '../support/ports';

let gw: TestGateway;
let admin: ReturnType<typeof adminClient>;
let live: Provisioned;
let token: string;
let client: VerigateClient;

beforeAll(async () => {
  gw = await startGateway();
  admin = adminClient(gw, 'live');
  live = await admin.provisionSite();
  await admin.putUser(live.siteId, 'ada', { name: 'Ada', productAccess: [{ productId: 'reports', expiresAt: null }] });
  token = await verificationTokenFor(gw, 'live', await admin.createSession(live.siteId, 'ada'));
  client = createVerigateClient({ apiKey: live.apiKey, baseUrl: gw.urls.live });
});
afterAll(() => gw.close());

async function listening(server: Server): Promise<{ url: string; close: () => Promise<void> }> {
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((ok) => server.close(ok));
    },
  };
}

/** A running app with three routes: /me (any verified user), /reports and /analytics (each needs its product). */
interface App {
  readonly url: string;
  /** Requests that got past the guard into the route handler. */
  readonly reached: string[];
  close(): Promise<void>;
}
type StartApp = (verigate: VerigateClient, logger: VerigateLogger) => Promise<App>;

const PRODUCTS: Record<string, string | undefined> = { '/me': undefined, '/reports': 'reports', '/analytics': 'analytics' };

const startExpress: StartApp = async (verigate, logger) => {
  const reached: string[] = [];
  const app = express();
  for (const [path, productId] of Object.entries(PRODUCTS)) {
    app.get(path, requireVerifiedUser(verigate, { productId, logger }), (req, res) => {
      reached.push(path);
      res.json({ userId: req.verigateUser?.userInfo.userId, hasProductAccess: req.verigateUser?.hasProductAccess });
    });
  }
  // No error handler of our own: Express's default one would print a stack trace for anything passed to next(err).
  return { reached, ...(await listening(createServer(app))) };
};

const startFastify: StartApp = async (verigate, logger) => {
  const reached: string[] = [];
  const app = Fastify();
  for (const [path, productId] of Object.entries(PRODUCTS)) {
    void app.register(async (scope) => {
      await scope.register(verigateFastify, { client: verigate, productId, logger });
      scope.get(path, async (request) => {
        reached.push(path);
        return { userId: request.verigateUser?.userInfo.userId, hasProductAccess: request.verigateUser?.hasProductAccess };
      });
    });
  }
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, reached, close: () => app.close() };
};

/** A fetch-API server (what Next.js route handlers, Hono or a worker run): Request in, Response out. */
const startFetch: StartApp = async (verigate, logger) => {
  const reached: string[] = [];
  const handle = async (request: Request): Promise<Response> => {
    const path = new URL(request.url).pathname;
    const auth = await authenticateRequest(verigate, request, { productId: PRODUCTS[path], logger });
    if (!auth.ok) return auth.response;
    reached.push(path);
    return Response.json({ userId: auth.user.userInfo.userId, hasProductAccess: auth.user.hasProductAccess });
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) if (typeof value === 'string') headers.set(name, value);
    void handle(new Request(`http://127.0.0.1${req.url}`, { headers })).then(async (response) => {
      response.headers.forEach((value, name) => res.setHeader(name, value));
      res.writeHead(response.status);
      res.end(Buffer.from(await response.arrayBuffer()));
    });
  });
  return { reached, ...(await listening(server)) };
};

const ADAPTERS: [string, StartApp][] = [
  ['Express requireVerifiedUser', startExpress],
  ['Fastify verigateFastify', startFastify],
  ['fetch-API authenticateRequest', startFetch],
];

async function get(app: App, path: string, bearer?: string): Promise<{ status: number; headers: Headers; text: string; body: GuardProblem & Record<string, unknown> }> {
  const res = await fetch(`${app.url}${path}`, { headers: bearer === undefined ? {} : { Authorization: `Bearer ${bearer}` } });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, body: JSON.parse(text) };
}

describe.each(ADAPTERS)('%s', (_name, start) => {
  let lines: string[];
  const logger: VerigateLogger = { error: (line) => lines.push(line) };
  let app: App;
  beforeAll(async () => {
    app = await start(client, logger);
  });
  afterAll(() => app.close());
  beforeEach(() => {
    lines = [];
  });

  /** Starts a second app of this kind on a misconfigured client, runs `fn`, closes it. */
  async function withApp(verigate: VerigateClient, fn: (other: App) => Promise<void>): Promise<void> {
    const other = await start(verigate, logger);
    try {
      await fn(other);
    } finally {
      await other.close();
    }
  }

  it('lets a verified user through, with the user and the product answer', async () => {
    const me = await get(app, '/me', token);
    expect(me.status).toBe(200);
    expect(me.body).toEqual({ userId: 'ada' });
    const reports = await get(app, '/reports', token);
    expect(reports.status).toBe(200);
    expect(reports.body).toEqual({ userId: 'ada', hasProductAccess: true });
    expect(app.reached).toEqual(['/me', '/reports']);
    expect(lines).toEqual([]);
  });

  it('401 not_authenticated with missing_token and WWW-Authenticate, without a bearer token', async () => {
    const res = await get(app, '/me');
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.body).toMatchObject({ type: 'urn:verigate:error:not_authenticated', status: 401, code: 'not_authenticated', reason: 'missing_token' });
  });

  it('401 with the gateway reason for a token that does not verify', async () => {
    expect((await get(app, '/me', 'not-a-jwt')).body).toMatchObject({ status: 401, code: 'not_authenticated', reason: 'token_malformed' });
    const sessionToken = await admin.createSession(live.siteId, 'ada');
    const ended = await verificationTokenFor(gw, 'live', sessionToken);
    await gw.http('live').delete('/live_api/v1/session').set('Authorization', `Bearer ${sessionToken}`);
    const res = await get(app, '/reports', ended);
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ code: 'not_authenticated', reason: 'session_ended' });
  });

  it('401 token_malformed for a bearer value too long to be a token, without asking the gateway', async () => {
    const res = await get(app, '/me', 'x'.repeat(8193));
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ code: 'not_authenticated', reason: 'token_malformed' });
    expect(lines).toEqual([]);
  });

  it('403 product_access_required without the route product', async () => {
    const res = await get(app, '/analytics', token);
    expect(res.status).toBe(403);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({ status: 403, code: 'product_access_required', productId: 'analytics' });
    expect(app.reached).not.toContain('/analytics');
  });

  /** The misconfiguration answer: 5xx problem+json, no stack trace, one line in the log naming `cause`, no secret. */
  function expectServerSide(res: Awaited<ReturnType<typeof get>>, status: 500 | 503, code: string, cause: RegExp, secret: string): void {
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({ status, code });
    expect(res.text).not.toMatch(/\n\s+at |Error:|invalid_api_key|api_key_wrong_environment|network_error|redirect/);
    expect(lines).toHaveLength(1);
    const [line] = lines as [string];
    expect(line).toMatch(cause);
    expect(line).not.toContain('\n');
    expect(line).not.toContain(secret);
    expect(line).not.toContain(token);
  }

  it('500 verification_misconfigured, one log line, for a revoked API key', async () => {
    const key = await admin.call('post', `/sites/${live.siteId}/api-keys`, { name: 'soon revoked' });
    expect((await admin.call('delete', `/sites/${live.siteId}/api-keys/${key.body.keyId}`)).status).toBe(204);
    await withApp(createVerigateClient({ apiKey: key.body.apiKey, baseUrl: gw.urls.live }), async (other) => {
      expectServerSide(await get(other, '/me', token), 500, 'verification_misconfigured', /invalid_api_key.*HTTP 401/, key.body.apiKey);
      expect(other.reached).toEqual([]);
    });
  });

  it("500 verification_misconfigured for the other environment's API key", async () => {
    const sandbox = await adminClient(gw, 'sandbox').provisionSite();
    // gw.urls.live is 127.0.0.1:<port>: the client cannot tell, the gateway can.
    await withApp(createVerigateClient({ apiKey: sandbox.apiKey, baseUrl: gw.urls.live }), async (other) => {
      expectServerSide(await get(other, '/me', token), 500, 'verification_misconfigured', /api_key_wrong_environment/, sandbox.apiKey);
      expect(other.reached).toEqual([]);
    });
  });

  it('503 verification_unavailable with Retry-After, one log line, when the gateway cannot be reached', async () => {
    const down = createVerigateClient({ apiKey: live.apiKey, baseUrl: `http://127.0.0.1:${await freePort()}`, retries: 0 });
    await withApp(down, async (other) => {
      const res = await get(other, '/me', token);
      expectServerSide(res, 503, 'verification_unavailable', /network_error.*ECONNREFUSED/, live.apiKey);
      expect(res.headers.get('retry-after')).toBe('1');
      expect(other.reached).toEqual([]);
    });
  });

  it('500 verification_misconfigured when the base URL redirects, and the key never reaches the redirect target', async () => {
    const seen: (string | undefined)[] = [];
    const target = await listening(
      createServer((req, res) => {
        seen.push(req.headers['x-api-key'] as string | undefined);
        res.end('{}');
      }),
    );
    const redirecting = await listening(
      createServer((req, res) => {
        res.writeHead(307, { Location: `${target.url}${req.url}` });
        res.end();
      }),
    );
    try {
      await withApp(createVerigateClient({ apiKey: live.apiKey, baseUrl: redirecting.url }), async (other) => {
        expectServerSide(await get(other, '/me', token), 500, 'verification_misconfigured', /redirect_refused.*HTTP 307/, live.apiKey);
      });
      expect(seen).toEqual([]);
    } finally {
      await Promise.all([target.close(), redirecting.close()]);
    }
  });
});

describe('verifyUser and redirects', () => {
  it.each([301, 302, 303, 307, 308])('refuses a %s with redirect_refused: the API key never reaches the other origin', async (status) => {
    const seen: string[] = [];
    const target = await listening(
      createServer((req, res) => {
        seen.push(`${req.method} ${req.url} ${String(req.headers['x-api-key'])}`);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ isAuthenticated: false, environment: 'live', userInfo: null, reason: 'token_invalid' }));
      }),
    );
    const redirecting = await listening(
      createServer((req, res) => {
        res.writeHead(status, { Location: `${target.url}${req.url}` });
        res.end();
      }),
    );
    try {
      const err = await createVerigateClient({ apiKey: live.apiKey, baseUrl: redirecting.url, retries: 2 })
        .verifyUser(token)
        .then(() => null, (e: unknown) => e);
      expect(err).toMatchObject({ name: 'VerigateApiError', code: 'redirect_refused', httpStatus: status, transient: false });
      expect((err as Error).message).toContain(target.url);
      expect((err as Error).message).not.toContain(live.apiKey);
      expect(seen).toEqual([]);
    } finally {
      await Promise.all([target.close(), redirecting.close()]);
    }
  });
});

describe('verigateFastify without a logger option', () => {
  it("writes its one line to Fastify's own request logger", async () => {
    const revoked = await admin.call('post', `/sites/${live.siteId}/api-keys`, { name: 'revoked' });
    await admin.call('delete', `/sites/${live.siteId}/api-keys/${revoked.body.keyId}`);
    const entries: { level: number; msg: string }[] = [];
    const app = Fastify({ logger: { level: 'warn', stream: { write: (line: string) => void entries.push(JSON.parse(line)) } } });
    await app.register(verigateFastify, { client: createVerigateClient({ apiKey: revoked.body.apiKey, baseUrl: gw.urls.live }) });
    app.get('/me', async () => ({ reached: true }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const res = await fetch(`http://127.0.0.1:${(app.server.address() as AddressInfo).port}/me`, { headers: { Authorization: `Bearer ${token}` } });
      expect(res.status).toBe(500);
      expect(entries).toHaveLength(1);
      expect(entries[0]).toMatchObject({ level: 50, msg: expect.stringMatching(/^verigate: invalid_api_key/) });
      expect(JSON.stringify(entries)).not.toContain(revoked.body.apiKey);
    } finally {
      await app.close();
    }
  });
});

describe('a VerigateError thrown through a framework error handler', () => {
  it.each([
    ['Express', 'express'],
    ['Fastify', 'fastify'],
  ])('%s answers it with 500, not the gateway 401 for the API key', async (_name, framework) => {
    const revoked = await admin.call('post', `/sites/${live.siteId}/api-keys`, { name: 'revoked' });
    await admin.call('delete', `/sites/${live.siteId}/api-keys/${revoked.body.keyId}`);
    const misconfigured = createVerigateClient({ apiKey: revoked.body.apiKey, baseUrl: gw.urls.live });
    // The customer's own code, calling verifyUser by hand and letting the error escape.
    const route = async () => misconfigured.verifyUser(token);
    let server: { url: string; close: () => Promise<void> };
    if (framework === 'express') {
      const app = express();
      app.set('env', 'test'); // Express's default handler: no console.error of the stack
      app.get('/me', async (_req, res) => {
        res.json(await route());
      });
      server = await listening(createServer(app));
    } else {
      const app = Fastify();
      app.get('/me', route);
      await app.listen({ port: 0, host: '127.0.0.1' });
      server = { url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, close: () => app.close() };
    }
    try {
      const res = await fetch(`${server.url}/me`);
      expect(res.status).toBe(500);
    } finally {
      await server.close();
    }
  });
});
