import { documentedOperations, expectResponseToMatchSpec, type ResponseLike } from '../support/openapi';

/** A fake shaped like a supertest response. */
function fake(
  method: string,
  path: string,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
  contentType: string | undefined = 'application/json; charset=utf-8',
): ResponseLike {
  return {
    status,
    headers: {
      'x-request-id': 'req_1',
      ...(contentType === undefined ? {} : { 'content-type': contentType }),
      ...headers,
    },
    body,
    req: { method, path },
  };
}

function problem(status: number, code: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { type: `urn:verigate:error:${code}`, title: 'A title', status, code, requestId: 'req_1', ...extra };
}

const PROBLEM_JSON = 'application/problem+json; charset=utf-8';
const EXCHANGE = '/live_api/s2s/v1/users/verification';
const NOW = '2026-11-21T10:00:00.000Z';

const user = {
  userId: 'u_1',
  email: 'a@example.com',
  name: null,
  attributes: { plan: 'pro', seats: 3, beta: true, note: null },
  productAccess: [{ productId: 'p_1', expiresAt: null }],
  createdAt: NOW,
  updatedAt: NOW,
};

describe('expectResponseToMatchSpec', () => {
  it('accepts a valid problem body, taking method and path from res.req', () => {
    const res = fake('POST', EXCHANGE, 401, problem(401, 'invalid_api_key', { detail: 'unknown key' }), {}, PROBLEM_JSON);
    expect(() => expectResponseToMatchSpec(res)).not.toThrow();
  });

  it('accepts a valid problem with validation errors on a templated admin path', () => {
    const res = fake(
      'PUT',
      '/admin/v1/live/sites/site_1/users/u%201',
      400,
      problem(400, 'invalid_request', { errors: [{ path: '/email', message: 'must be an email' }] }),
      {},
      PROBLEM_JSON,
    );
    expect(() => expectResponseToMatchSpec(res)).not.toThrow();
  });

  it('accepts both shapes of the exchange answer', () => {
    const verified = {
      isAuthenticated: true,
      environment: 'sandbox',
      userInfo: { userId: 'u_1', email: null, name: 'Ann', productAccess: [], attributes: {} },
      sessionId: 'ses_1',
      tokenExpiresAt: NOW,
      hasProductAccess: false,
    };
    const notVerified = { isAuthenticated: false, environment: 'live', userInfo: null, reason: 'session_ended' };
    for (const body of [verified, notVerified]) {
      expect(() => expectResponseToMatchSpec(fake('POST', EXCHANGE, 200, body, { 'cache-control': 'no-store' }))).not.toThrow();
    }
  });

  it('rejects an undocumented status', () => {
    const res = fake('GET', '/healthz', 201, { status: 'ok' });
    expect(() => expectResponseToMatchSpec(res)).toThrow(/status 201 not documented for GET \/healthz/);
  });

  it('rejects an undocumented path', () => {
    const res = fake('GET', '/live_api/v1/nothing-here', 200, { status: 'ok' });
    expect(() => expectResponseToMatchSpec(res)).toThrow(/path not documented: GET \/live_api\/v1\/nothing-here/);
  });

  it('rejects an undocumented operation on a documented path', () => {
    const res = fake('PUT', '/healthz', 200, { status: 'ok' });
    expect(() => expectResponseToMatchSpec(res)).toThrow(/operation not documented: PUT \/healthz/);
  });

  it('rejects a body with a member of the wrong type, naming it', () => {
    const res = fake('GET', '/admin/v1/live/sites/site_1/users/u_1', 200, { ...user, createdAt: 12 }, { 'cache-control': 'no-store' });
    expect(() => expectResponseToMatchSpec(res)).toThrow(/\/createdAt must be string/);
  });

  it('rejects a body missing a required member', () => {
    const { requestId: _omitted, ...body } = problem(401, 'invalid_api_key');
    const res = fake('POST', EXCHANGE, 401, body, {}, PROBLEM_JSON);
    expect(() => expectResponseToMatchSpec(res)).toThrow(/must have required property 'requestId'/);
  });

  it('rejects an unknown member where the body is fixed', () => {
    const res = fake('GET', '/healthz', 200, { status: 'ok', uptime: 3 });
    expect(() => expectResponseToMatchSpec(res)).toThrow(/must NOT have additional properties/);
  });

  it('rejects an error code that the status does not carry', () => {
    const res = fake('POST', EXCHANGE, 401, problem(401, 'no_session'), {}, PROBLEM_JSON);
    expect(() => expectResponseToMatchSpec(res)).toThrow(/\/code must be equal to one of the allowed values/);
  });

  it('rejects an undocumented media type', () => {
    const res = fake('POST', EXCHANGE, 401, problem(401, 'invalid_api_key'));
    expect(() => expectResponseToMatchSpec(res)).toThrow(/media type application\/json not documented/);
  });

  it('rejects a missing required header', () => {
    const res = fake('POST', EXCHANGE, 503, problem(503, 'store_unavailable'), {}, PROBLEM_JSON);
    expect(() => expectResponseToMatchSpec(res)).toThrow(/required header Retry-After is missing/);
    const ok = fake('POST', EXCHANGE, 503, problem(503, 'store_unavailable'), { 'retry-after': '1' }, PROBLEM_JSON);
    expect(() => expectResponseToMatchSpec(ok)).not.toThrow();
  });

  it('rejects a token-bearing answer without Cache-Control: no-store', () => {
    const body = { userVerificationToken: 'a.b.c', expiresAt: NOW };
    const res = fake('POST', '/live_api/v1/users/verification-token', 200, body, { 'cache-control': 'max-age=60' });
    expect(() => expectResponseToMatchSpec(res)).toThrow(/header Cache-Control/);
  });

  it('checks only the content type for non-JSON media types', () => {
    const headers = { 'cache-control': 'public, max-age=300', etag: '"abc"', vary: 'Accept-Encoding' };
    const sdk = fake('GET', '/sdk/v1/verigate.js', 200, {}, headers, 'text/javascript; charset=utf-8');
    expect(() => expectResponseToMatchSpec(sdk)).not.toThrow();
    const wrong = fake('GET', '/sdk/v1/verigate.js', 200, {}, headers, 'text/html; charset=utf-8');
    expect(() => expectResponseToMatchSpec(wrong)).toThrow(/media type text\/html not documented/);
  });

  it('accepts an empty 204', () => {
    const res = fake('DELETE', '/admin/v1/sandbox/sites/site_1/api-keys/key_1', 204, {}, {}, undefined);
    expect(() => expectResponseToMatchSpec(res)).not.toThrow();
  });

  it('accepts 405 for an undocumented method on a documented path, and 404 not_found anywhere', () => {
    const notAllowed = fake('PUT', '/healthz', 405, problem(405, 'method_not_allowed'), { allow: 'GET' }, PROBLEM_JSON);
    expect(() => expectResponseToMatchSpec(notAllowed)).not.toThrow();
    const notFound = fake('GET', '/nowhere', 404, problem(404, 'not_found'), {}, PROBLEM_JSON);
    expect(() => expectResponseToMatchSpec(notFound)).not.toThrow();
  });

  it('lets the caller name the method and path, ignoring a query string', () => {
    const res: ResponseLike = { status: 200, headers: { 'x-request-id': 'r', 'content-type': 'application/json' }, body: { status: 'ready' } };
    expect(() => expectResponseToMatchSpec(res, 'get', '/readyz?verbose=1')).not.toThrow();
  });
});

describe('documentedOperations', () => {
  it('lists every operation with the listeners that serve it', () => {
    const ops = documentedOperations();
    expect(ops).toContainEqual({ method: 'POST', path: EXCHANGE, listeners: ['live', 'sandbox'] });
    expect(ops).toContainEqual({ method: 'GET', path: '/healthz', listeners: ['live', 'sandbox', 'admin'] });
    expect(ops).toContainEqual({ method: 'POST', path: '/admin/v1/{environment}/signing-keys/rotate', listeners: ['admin'] });
    expect(new Set(ops.map((o) => `${o.method} ${o.path}`)).size).toBe(ops.length);
  });
});
