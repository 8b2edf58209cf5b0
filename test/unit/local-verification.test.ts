/**
 * The parts of @verigate/node's local mode that need no gateway: the
 * session cache's bound and its guard against answers in flight, the
 * claims check against the gateway's own, and the SSE client's parsing,
 * resumption and gaps (against a small SSE server written here, so a 410
 * and an `error` message can be sent at will).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { SessionCache, type CachedSession } from '../../packages/node/src/local/session-cache';
import { LruMap } from '../../packages/node/src/local/lru';
import { checkClaims } from '../../packages/node/src/local/token';
import { EventStream, type StreamEvent } from '../../packages/node/src/local/event-stream';
import { checkVerificationClaims } from '../../src/domain/verification-tokens';
import { pollUntil } from '../support/poll';

const entry = (sessionId: string, userId: string): CachedSession => ({
  sessionId,
  userId,
  email: null,
  name: null,
  attributes: {},
  productAccess: [],
  reusableUntil: Date.now() + 60_000,
});

describe('SessionCache', () => {
  it('stays at its capacity under 100,000 distinct sessions, keeping the most recent, its user index with it', () => {
    const cache = new SessionCache(10_000);
    for (let i = 0; i < 100_000; i++) expect(cache.admit(cache.ticket(), entry(`sess_${i}`, `user_${i}`))).toBe(true);
    expect(cache.size).toBe(10_000);
    expect(cache.indexedUsers).toBe(10_000);
    expect(cache.get('sess_0')).toBeUndefined();
    expect(cache.get('sess_89999')).toBeUndefined();
    expect(cache.get('sess_90000')?.userId).toBe('user_90000');
    expect(cache.get('sess_99999')?.userId).toBe('user_99999');
  });

  it('evicts the least recently used, not the oldest inserted', () => {
    const lru = new LruMap<string, number>(2);
    lru.set('a', 1);
    lru.set('b', 2);
    lru.get('a');
    lru.set('c', 3);
    expect([lru.peek('a'), lru.peek('b'), lru.peek('c')]).toEqual([1, undefined, 3]);
  });

  it('drops every session of a user, and only theirs', () => {
    const cache = new SessionCache(10);
    cache.admit(cache.ticket(), entry('s1', 'ada'));
    cache.admit(cache.ticket(), entry('s2', 'ada'));
    cache.admit(cache.ticket(), entry('s3', 'bob'));
    cache.dropUser('ada');
    expect([cache.get('s1'), cache.get('s2'), cache.get('s3')?.userId]).toEqual([undefined, undefined, 'bob']);
    expect(cache.indexedUsers).toBe(1);
  });

  it('never keeps an answer read before an invalidation of its session, its user or everything', () => {
    const cache = new SessionCache(10);
    const before = cache.ticket();
    cache.dropSession('s1');
    expect(cache.admit(before, entry('s1', 'ada'))).toBe(false);
    const beforeUser = cache.ticket();
    cache.dropUser('ada');
    expect(cache.admit(beforeUser, entry('s9', 'ada'))).toBe(false);
    const beforeClear = cache.ticket();
    cache.clear();
    expect(cache.admit(beforeClear, entry('s5', 'eve'))).toBe(false);
    // Another user's invalidation in flight does not matter.
    const beforeOther = cache.ticket();
    cache.dropUser('bob');
    expect(cache.admit(beforeOther, entry('s7', 'eve'))).toBe(true);
    expect(cache.size).toBe(1);
  });

  it('refuses an answer whose ticket is older than the invalidations it remembers', () => {
    const cache = new SessionCache(10);
    const old = cache.ticket();
    for (let i = 0; i < 2000; i++) cache.dropSession(`other_${i}`);
    expect(cache.admit(old, entry('s1', 'ada'))).toBe(false);
  });
});

describe('checkClaims', () => {
  const issuer = 'https://api.verigate.test';
  const audience = 'site_a';
  const now = 1_800_000_000;
  const numberish = fc.oneof(
    fc.integer({ min: now - 400, max: now + 400 }),
    fc.constant(now),
    fc.constant(now - 300),
    fc.constant(now + 5),
    fc.constant(now + 6),
    fc.double({ noNaN: true, min: now - 10, max: now + 10 }),
    fc.string(),
    fc.constant(null),
  );
  const claimsArb = fc.record(
    {
      iss: fc.oneof(fc.constant(issuer), fc.constant('https://other.test'), fc.integer()),
      aud: fc.oneof(fc.constant(audience), fc.constant('site_b'), fc.constant([audience]), fc.constant([audience, 'site_b']), fc.integer()),
      sub: fc.oneof(fc.constant('ada'), fc.integer()),
      sid: fc.oneof(fc.constant('sess_1'), fc.constant(null)),
      env: fc.constantFrom('live', 'sandbox', 'staging', 1),
      jti: fc.oneof(fc.constant('j1'), fc.integer()),
      iat: numberish,
      exp: numberish,
      nbf: numberish,
    },
    { requiredKeys: [] },
  );

  it('gives the gateway\'s answer for any claims, except "unsure" exactly where the issuer is not the one seen', () => {
    fc.assert(
      fc.property(claimsArb, (claims) => {
        const policy = { issuer, audience, environment: 'live' as const, now };
        const gateway = checkVerificationClaims(claims, policy);
        const local = checkClaims(claims, policy);
        if (!local.ok && local.reason === 'unsure') {
          expect(claims.iss).not.toBe(issuer);
          expect(gateway).toEqual({ ok: false, reason: 'token_invalid' });
          return;
        }
        if (gateway.ok) expect(local).toEqual({ ok: true, claims: { iss: gateway.claims.iss, aud: gateway.claims.aud, sub: gateway.claims.sub, sid: gateway.claims.sid, jti: gateway.claims.jti, iat: gateway.claims.iat, exp: gateway.claims.exp } });
        else expect(local).toEqual(gateway);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('EventStream', () => {
  let server: Server;
  let url: string;
  /** What the fake gateway does with each connection, in order. */
  let script: ((req: IncomingMessage, res: ServerResponse) => void)[];
  const seenLastEventIds: (string | undefined)[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      seenLastEventIds.push(req.headers['last-event-id'] as string | undefined);
      const step = script.shift();
      if (step) step(req, res);
      else res.writeHead(503).end();
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/live_api/s2s/v1/events/stream`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((done) => server.close(done));
  });
  beforeEach(() => {
    seenLastEventIds.length = 0;
  });

  const open = (res: ServerResponse) => res.writeHead(200, { 'Content-Type': 'text/event-stream' });
  const sse = (event: StreamEvent) => `id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
  const ev = (id: string, type: string, data: Record<string, unknown> = {}): StreamEvent => ({
    id,
    type,
    createdAt: new Date().toISOString(),
    environment: 'live',
    siteId: 'site_a',
    data,
  });

  function start() {
    const log: string[] = [];
    const stream = new EventStream({
      url,
      apiKey: 'vg_live_sk_x',
      userAgent: 'test',
      connectTimeoutMs: 2000,
      stallTimeoutMs: 60_000,
      onEvent: (e) => log.push(`event ${e.id} ${e.type}`),
      onHeartbeat: () => log.push('heartbeat'),
      onGap: (why) => log.push(`gap ${why}`),
      onTrouble: () => undefined,
    });
    stream.start();
    return { stream, log };
  }

  it('parses events split anywhere across chunks (CRLF too), and resumes after a drop with Last-Event-ID', async () => {
    const wire = `: open\r\n\r\n${sse(ev('1-0', 'user.updated', { userId: 'ada' }))}event: heartbeat\r\ndata: {"time":1}\r\n\r\n${sse(ev('2-0', 'session.ended', { sessionId: 's' }))}`;
    script = [
      (_req, res) => {
        open(res);
        // One byte at a time, then hang up: the client must reconnect from 2-0.
        let i = 0;
        const tick = setInterval(() => {
          if (i < wire.length) res.write(wire[i++]);
          else {
            clearInterval(tick);
            res.end();
          }
        }, 0);
      },
      (_req, res) => {
        open(res);
        res.write('event: heartbeat\ndata: {"time":2}\n\n');
      },
    ];
    const { stream, log } = start();
    try {
      await pollUntil(async () => log.length, (n) => n >= 4, { what: 'four messages' });
      expect(log).toEqual(['event 1-0 user.updated', 'heartbeat', 'event 2-0 session.ended', 'heartbeat']);
      expect(seenLastEventIds).toEqual([undefined, '2-0']);
    } finally {
      stream.close();
    }
  });

  it('reports a gap on 410 cursor_expired and starts again without a cursor', async () => {
    script = [
      (_req, res) => {
        open(res);
        res.end(sse(ev('5-0', 'user.updated', { userId: 'ada' })));
      },
      (_req, res) => res.writeHead(410, { 'Content-Type': 'application/problem+json' }).end(JSON.stringify({ code: 'cursor_expired' })),
      (_req, res) => {
        open(res);
        res.write('event: heartbeat\ndata: {}\n\n');
      },
    ];
    const { stream, log } = start();
    try {
      await pollUntil(async () => log.includes('heartbeat'), Boolean, { what: 'the heartbeat after the gap' });
      expect(log).toEqual(['event 5-0 user.updated', 'gap cursor_expired', 'heartbeat']);
      expect(seenLastEventIds).toEqual([undefined, '5-0', undefined]);
    } finally {
      stream.close();
    }
  });

  it('reports a gap on an error message, and on a reconnect with no event id to resume from', async () => {
    script = [
      (_req, res) => {
        open(res);
        res.write('event: heartbeat\ndata: {}\n\n');
        res.end();
      },
      (_req, res) => {
        open(res);
        res.write('event: error\ndata: {"code":"cursor_expired"}\n\n');
      },
      (_req, res) => {
        open(res);
        res.write('event: heartbeat\ndata: {}\n\n');
      },
    ];
    const { stream, log } = start();
    try {
      await pollUntil(async () => log.filter((l) => l === 'heartbeat').length, (n) => n >= 2, { what: 'two heartbeats' });
      expect(log).toEqual(['heartbeat', 'gap reconnected_without_cursor', 'gap stream_error', 'heartbeat']);
    } finally {
      stream.close();
    }
  });
});

describe('Jwks', () => {
  it('fetches again for an unknown kid at most once per interval, however many bad tokens arrive', async () => {
    const { Jwks } = await import('../../packages/node/src/local/jwks');
    const { generateKeyPairSync } = await import('node:crypto');
    const jwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
    let fetches = 0;
    let clock = 1_000_000;
    const jwks = new Jwks({
      url: 'http://gateway.test/.well-known/jwks.json',
      fetch: async () => {
        fetches++;
        return new Response(JSON.stringify({ keys: [{ ...jwk, kid: 'live_a', alg: 'ES256', use: 'sig' }, { kty: 'RSA', kid: 'live_rsa', n: 'x', e: 'AQAB' }] }), { status: 200 });
      },
      timeoutMs: 1000,
      refreshIntervalMs: 30_000,
      now: () => clock,
    });
    await jwks.refresh();
    expect(jwks.key('live_a')).toBeDefined();
    expect(jwks.key('live_rsa')).toBeUndefined(); // only P-256 EC keys are taken
    for (let i = 0; i < 1000; i++) await jwks.refreshForUnknownKid();
    expect(fetches).toBe(1);
    clock += 30_000;
    await Promise.all(Array.from({ length: 100 }, () => jwks.refreshForUnknownKid()));
    expect(fetches).toBe(2);
  });
});
