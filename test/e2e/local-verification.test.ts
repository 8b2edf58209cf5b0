/**
 * SPEC §12: `verification: 'local'` of @verigate/node against the real
 * gateway as another process (test/support/gateway-process.ts) on real
 * Redis (and on a Redis Cluster): every event type invalidates what it
 * should; a frozen stream (a stalling proxy; the gateway SIGSTOP'd) goes
 * online within maxStalenessMs and then fails closed; a rotated signing key
 * is picked up; local answers equal the online exchange's for the same
 * tokens (fast-check over mutations of genuine tokens and every outcome).
 * No timed assertion: every wait is for an outcome (pollUntil).
 */
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { createVerigateClient, authenticateRequest, requireVerifiedUser, VerigateError, type VerigateClient, type VerificationResult } from '@verigate/node';
import express from 'express';
import Fastify from 'fastify';
import request from 'supertest';
import { verigateFastify } from '@verigate/node/fastify';
import {
  endDeployment,
  httpClient,
  newDeployment,
  startGatewayProcess,
  type Deployment,
  type GatewayProcess,
  type ProcessStore,
} from '../support/gateway-process';
import { testRedisUrl } from '../support/redis';
import { startRedisCluster, type RedisClusterHandle } from '../support/redis-cluster';
import { pollUntil } from '../support/poll';
import { startStallingProxy } from '../support/stalling-proxy';
import { applyMutations, mutationsArb } from '../security/support/mutations';
import { decode, ecdsa, fixedSignature, forge, hmac, patch, withPayload } from '../security/support/forge';
import { generateKeyPairSync } from 'node:crypto';

jest.setTimeout(180_000);

let cluster: RedisClusterHandle | undefined;
afterAll(async () => {
  await cluster?.stop();
});

const stores: [string, () => Promise<ProcessStore>][] = [
  ['one Redis', async () => ({ redisUrl: testRedisUrl() })],
  [
    'Redis Cluster',
    async () => {
      const given = process.env.TEST_REDIS_CLUSTER_NODES;
      if (given) return { clusterNodes: given };
      cluster = await startRedisCluster();
      return { clusterNodes: cluster.nodesEnv };
    },
  ],
];

describe.each(stores)('local verification against a gateway process on %s', (_name, storeFor) => {
  let deployment: Deployment;
  let gw: GatewayProcess;
  let http: ReturnType<typeof httpClient>;
  const clients: VerigateClient[] = [];

  beforeAll(async () => {
    deployment = newDeployment(await storeFor());
    gw = await startGatewayProcess(deployment);
    http = httpClient(gw, deployment.adminToken);
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });
  afterAll(async () => {
    await gw?.stop();
    if (deployment) await endDeployment(deployment);
  });

  const ok = <T extends { status: number; body: Record<string, unknown> }>(expected: number, res: T): T['body'] => {
    if (res.status !== expected) throw new Error(`expected ${expected}, got ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  };
  const newSite = async () => {
    const site = ok(201, await http.admin('POST', '/sites', { name: 'Local' }));
    const key = ok(201, await http.admin('POST', `/sites/${site.siteId as string}/api-keys`, { name: 'backend' }));
    return { siteId: site.siteId as string, apiKey: key.apiKey as string, keyId: key.keyId as string };
  };
  const putUser = async (siteId: string, userId: string, body: Record<string, unknown> = {}) =>
    http.admin('PUT', `/sites/${siteId}/users/${userId}`, body);
  const signIn = async (siteId: string, userId: string): Promise<string> =>
    ok(201, await http.admin('POST', `/sites/${siteId}/users/${userId}/sessions`, {})).sessionToken as string;
  const tokenOf = async (sessionToken: string): Promise<string> =>
    ok(200, await http.call('live', 'POST', '/live_api/v1/users/verification-token', { headers: { Authorization: `Bearer ${sessionToken}` } }))
      .userVerificationToken as string;

  const localClient = (apiKey: string, options: { baseUrl?: string; maxStalenessMs?: number; timeoutMs?: number; retries?: number } = {}) => {
    const client = createVerigateClient({ apiKey, baseUrl: options.baseUrl ?? gw.urls.live, verification: 'local', ...options });
    clients.push(client);
    return client;
  };
  const onlineClient = (apiKey: string) => createVerigateClient({ apiKey, baseUrl: gw.urls.live });
  const fresh = (client: VerigateClient) => pollUntil(async () => client.localStatus()?.fresh, (f) => f === true, { what: 'a fresh stream' });
  const counts = (client: VerigateClient) => {
    const s = client.localStatus();
    if (!s) throw new Error('not a local client');
    return { local: s.localAnswers, online: s.onlineAnswers };
  };
  /** Verifies once and says where the answer came from. */
  const verifyCounting = async (client: VerigateClient, token: string, productId?: string) => {
    const before = counts(client);
    const result = productId === undefined ? await client.verifyUser(token) : await client.verifyUser(token, { productId });
    const after = counts(client);
    return { result, from: after.local > before.local ? 'local' : after.online > before.online ? 'online' : 'none' };
  };
  /** Verifies until an answer comes from memory (the first sight went online; the answer is kept once the stream is fresh). */
  const known = async (client: VerigateClient, token: string) => {
    await fresh(client);
    await client.verifyUser(token);
    return pollUntil(() => verifyCounting(client, token), (v) => v.from === 'local', { what: 'an answer from memory' });
  };

  /** A site with two users, each signed in, their tokens known to a local client. */
  const scene = async (maxStalenessMs?: number) => {
    const site = await newSite();
    await putUser(site.siteId, 'ada', { name: 'Ada', email: 'ada@example.com', productAccess: [{ productId: 'reports', expiresAt: null }] });
    await putUser(site.siteId, 'bob', { name: 'Bob' });
    const adaSession = await signIn(site.siteId, 'ada');
    const bobSession = await signIn(site.siteId, 'bob');
    const ada = await tokenOf(adaSession);
    const bob = await tokenOf(bobSession);
    const local = localClient(site.apiKey, maxStalenessMs === undefined ? {} : { maxStalenessMs });
    await known(local, ada);
    await known(local, bob);
    return { ...site, local, ada, bob, adaSession, bobSession };
  };

  it('goes online on first sight, then answers from memory exactly what the exchange answers', async () => {
    const s = await scene();
    const online = onlineClient(s.apiKey);
    const viaLocal = await verifyCounting(s.local, s.ada, 'reports');
    expect(viaLocal.from).toBe('local');
    expect(viaLocal.result).toEqual(await online.verifyUser(s.ada, { productId: 'reports' }));
    const without = await verifyCounting(s.local, s.ada, 'analytics');
    expect(without).toEqual({ from: 'local', result: await online.verifyUser(s.ada, { productId: 'analytics' }) });
    expect((await verifyCounting(s.local, s.bob)).result).toEqual(await online.verifyUser(s.bob));
    // A fresh token of a known session: one signature check here, no exchange.
    const again = await verifyCounting(s.local, await tokenOf(s.adaSession));
    expect(again.from).toBe('local');
    expect(again.result.isAuthenticated).toBe(true);
  });

  it('session.ended (browser sign-out): the session is refused; the other user stays in memory', async () => {
    const s = await scene();
    ok(204, await http.call('live', 'DELETE', '/live_api/v1/session', { headers: { Authorization: `Bearer ${s.adaSession}` } }));
    const refused = await pollUntil(() => s.local.verifyUser(s.ada), (r) => !r.isAuthenticated, { what: 'the sign-out' });
    expect(refused).toMatchObject({ isAuthenticated: false, reason: 'session_ended' });
    expect((await verifyCounting(s.local, s.bob)).from).toBe('local');
  });

  it('session.ended (sign out everywhere, admin API) and user.deleted refuse that user only', async () => {
    const s = await scene();
    ok(204, await http.admin('DELETE', `/sites/${s.siteId}/users/ada/sessions`));
    await pollUntil(() => s.local.verifyUser(s.ada), (r) => !r.isAuthenticated && r.reason === 'session_ended', { what: 'sign-out everywhere' });
    expect((await verifyCounting(s.local, s.bob)).from).toBe('local');
    ok(204, await http.admin('DELETE', `/sites/${s.siteId}/users/bob`));
    await pollUntil(() => s.local.verifyUser(s.bob), (r) => !r.isAuthenticated && r.reason === 'session_ended', { what: 'the user deleted' });
  });

  it('user.updated: the next answer carries the change, and is kept again', async () => {
    const s = await scene();
    await putUser(s.siteId, 'ada', { name: 'Ada Lovelace', email: 'ada@example.com', attributes: { plan: 'pro' }, productAccess: [{ productId: 'reports', expiresAt: null }] });
    const changed = await pollUntil(() => s.local.verifyUser(s.ada), (r) => r.isAuthenticated && r.userInfo.name === 'Ada Lovelace', { what: 'the new name' });
    expect(changed.isAuthenticated && changed.userInfo.attributes).toEqual({ plan: 'pro' });
    const kept = await known(s.local, s.ada);
    expect(kept.result).toEqual(await onlineClient(s.apiKey).verifyUser(s.ada));
    expect((await verifyCounting(s.local, s.bob)).from).toBe('local');
  });

  it('user.product_access.changed: a grant and a revocation flip hasProductAccess', async () => {
    const s = await scene();
    expect((await s.local.verifyUser(s.bob, { productId: 'reports' })).isAuthenticated).toBe(true);
    ok(200, await http.admin('PUT', `/sites/${s.siteId}/users/bob/products/reports`, {}));
    await pollUntil(() => s.local.verifyUser(s.bob, { productId: 'reports' }), (r) => r.isAuthenticated && r.hasProductAccess === true, { what: 'the grant' });
    ok(200, await http.admin('DELETE', `/sites/${s.siteId}/users/ada/products/reports`));
    await pollUntil(() => s.local.verifyUser(s.ada, { productId: 'reports' }), (r) => r.isAuthenticated && r.hasProductAccess === false, { what: 'the revocation' });
  });

  it('a product grant that runs out is judged at answer time, from memory', async () => {
    const s = await scene();
    const expiresAt = new Date(Date.now() + 1500).toISOString();
    ok(200, await http.admin('PUT', `/sites/${s.siteId}/users/bob/products/trial`, { expiresAt }));
    await pollUntil(() => verifyCounting(s.local, s.bob, 'trial'), (v) => v.from === 'local' && v.result.isAuthenticated && v.result.hasProductAccess === true, {
      what: 'the grant, from memory',
    });
    const ran = await pollUntil(() => verifyCounting(s.local, s.bob, 'trial'), (v) => v.result.isAuthenticated && v.result.hasProductAccess === false, { what: 'the expiry' });
    expect(ran.from).toBe('local');
    expect(ran.result.isAuthenticated && ran.result.userInfo.productAccess).toEqual([]);
    expect(ran.result).toEqual(await onlineClient(s.apiKey).verifyUser(s.bob, { productId: 'trial' }));
  });

  it('api_key.revoked: another key of the site clears memory (answers go online, then memory again); our own key fails closed', async () => {
    const s = await scene();
    const other = ok(201, await http.admin('POST', `/sites/${s.siteId}/api-keys`, { name: 'other' }));
    const clears = s.local.localStatus()?.cacheClears ?? 0;
    ok(204, await http.admin('DELETE', `/sites/${s.siteId}/api-keys/${other.keyId as string}`));
    await pollUntil(async () => s.local.localStatus()?.cacheClears ?? 0, (n) => n > clears, { what: 'the revocation event' });
    expect(s.local.localStatus()?.cachedSessions).toBe(0);
    expect((await known(s.local, s.ada)).result.isAuthenticated).toBe(true);
    ok(204, await http.admin('DELETE', `/sites/${s.siteId}/api-keys/${s.keyId}`));
    const err = await pollUntil(
      () => s.local.verifyUser(s.ada).then(() => null, (e: unknown) => e),
      (e) => e !== null,
      { what: 'our key refused' },
    );
    expect(err).toBeInstanceOf(VerigateError);
    expect((err as VerigateError).code).toBe('invalid_api_key');
  });

  it('signing_key.rotated: the new key is fetched, and its tokens are answered from memory', async () => {
    const s = await scene();
    const rotated = ok(200, await http.admin('POST', '/signing-keys/rotate'));
    const newToken = await tokenOf(s.adaSession);
    expect(JSON.parse(Buffer.from(newToken.split('.')[0] as string, 'base64url').toString()).kid).toBe(rotated.kid);
    const local = await pollUntil(() => verifyCounting(s.local, newToken), (v) => v.from === 'local', { what: 'the new key in memory' });
    expect(local.result).toEqual(await onlineClient(s.apiKey).verifyUser(newToken));
    // Tokens of the previous key still verify (it stays in the JWKS until they expire), from memory too.
    expect(await verifyCounting(s.local, s.ada)).toMatchObject({ from: 'local', result: { isAuthenticated: true } });
  });

  it('site.deleted: everything of the site is refused (its key fails closed)', async () => {
    const s = await scene();
    ok(204, await http.admin('DELETE', `/sites/${s.siteId}`));
    const err = await pollUntil(
      () => s.local.verifyUser(s.bob).then(() => null, (e: unknown) => e),
      (e) => e !== null,
      { what: 'the site gone' },
    );
    expect((err as VerigateError).code).toBe('invalid_api_key');
  });

  it('a stalled stream goes online within maxStalenessMs, and fails closed once the gateway is unreachable too', async () => {
    const site = await newSite();
    await putUser(site.siteId, 'ada', { name: 'Ada' });
    const token = await tokenOf(await signIn(site.siteId, 'ada'));
    const proxy = await startStallingProxy(gw.urls.live);
    try {
      const local = localClient(site.apiKey, { baseUrl: proxy.url, maxStalenessMs: 300, timeoutMs: 1000, retries: 0 });
      await known(local, token);
      proxy.stallStreams();
      await pollUntil(async () => local.localStatus()?.fresh, (f) => f === false, { what: 'the stream stale' });
      expect(await verifyCounting(local, token)).toMatchObject({ from: 'online', result: { isAuthenticated: true } });
      proxy.unreachable();
      await expect(local.verifyUser(token)).rejects.toMatchObject({ code: 'network_error' });
      proxy.restore();
      // Back: a new stream connection, memory again.
      expect((await known(local, token)).result.isAuthenticated).toBe(true);
    } finally {
      await proxy.close();
    }
  });

  it('adapters in local mode: Express, Fastify and the fetch helper answer from memory', async () => {
    const s = await scene();
    const app = express();
    app.get('/reports', requireVerifiedUser(s.local, { productId: 'reports' }), (req, res) => {
      res.json({ user: (req as unknown as { verigateUser: { userInfo: { userId: string } } }).verigateUser.userInfo.userId });
    });
    const before = counts(s.local).local;
    expect((await request(app).get('/reports').set('Authorization', `Bearer ${s.ada}`)).body).toEqual({ user: 'ada' });
    expect((await request(app).get('/reports').set('Authorization', `Bearer ${s.bob}`)).status).toBe(403);
    const auth = await authenticateRequest(s.local, new Request('http://app.test/x', { headers: { Authorization: `Bearer ${s.ada}` } }));
    expect(auth.ok && auth.user.userInfo.userId).toBe('ada');
    const fastify = Fastify();
    await fastify.register(async (scope) => {
      await scope.register(verigateFastify, { client: s.local, productId: 'reports' });
      scope.get('/reports', async (req) => ({ user: req.verigateUser?.userInfo.userId }));
    });
    await fastify.listen({ port: 0, host: '127.0.0.1' });
    const { port } = fastify.server.address() as AddressInfo;
    try {
      const get = (token: string) => fetch(`http://127.0.0.1:${port}/reports`, { headers: { authorization: `Bearer ${token}` } });
      expect(await (await get(s.ada)).json()).toEqual({ user: 'ada' });
      expect((await get(s.bob)).status).toBe(403);
    } finally {
      await fastify.close();
    }
    expect(counts(s.local).local).toBe(before + 5);
  });

  it('answers exactly as the online exchange over every outcome and over mutations of genuine tokens', async () => {
    const s = await scene();
    const otherSite = await newSite();
    await putUser(otherSite.siteId, 'ada', { name: 'Ada elsewhere' });
    const otherSiteToken = await tokenOf(await signIn(otherSite.siteId, 'ada'));
    await putUser(s.siteId, 'eve', { name: 'Eve' });
    const eveSession = await signIn(s.siteId, 'eve');
    const eveToken = await tokenOf(eveSession);
    ok(204, await http.call('live', 'DELETE', '/live_api/v1/session', { headers: { Authorization: `Bearer ${eveSession}` } }));
    const sandboxSite = ok(201, await http.call('admin', 'POST', '/admin/v1/sandbox/sites', { body: { name: 'Sandbox' } }));
    await http.call('admin', 'PUT', `/admin/v1/sandbox/sites/${sandboxSite.siteId as string}/users/sam`, { body: {} });
    const samSession = ok(201, await http.call('admin', 'POST', `/admin/v1/sandbox/sites/${sandboxSite.siteId as string}/users/sam/sessions`, { body: {} }));
    const sandboxToken = ok(200, await http.call('sandbox', 'POST', '/live_api/v1/users/verification-token', { headers: { Authorization: `Bearer ${samSession.sessionToken as string}` } }))
      .userVerificationToken as string;
    const online = onlineClient(s.apiKey);
    const genuine = [s.ada, s.bob, otherSiteToken, eveToken, sandboxToken];
    const outcomes = new Set<string>();
    const same = async (token: string, productId?: string): Promise<VerificationResult> => {
      // Twice locally: the second may come from memory, which is the answer under test.
      if (productId === undefined) await s.local.verifyUser(token);
      else await s.local.verifyUser(token, { productId });
      const [local, remote] = await Promise.all([
        productId === undefined ? s.local.verifyUser(token) : s.local.verifyUser(token, { productId }),
        productId === undefined ? online.verifyUser(token) : online.verifyUser(token, { productId }),
      ]);
      expect(local).toEqual(remote);
      outcomes.add(local.isAuthenticated ? 'verified' : local.reason);
      return local;
    };
    // Every refusal path of the token check, forged: the local check must give the gateway's reason.
    const { header, payload } = decode(s.ada);
    const attacker = ecdsa(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
    const nowS = Math.floor(Date.now() / 1000);
    const forged = [
      forge(header, payload, attacker), // another key, our kid
      forge(patch(header, { jku: 'https://evil.test/jwks' }), payload, attacker),
      forge(patch(header, { jwk: { kty: 'EC' } }), payload, attacker),
      forge(patch(header, { crit: ['exp'] }), payload, attacker),
      forge(patch(header, { alg: 'none' }), payload, fixedSignature(Buffer.alloc(0))),
      forge(patch(header, { alg: 'HS256' }), payload, hmac('HS256', '')),
      forge(patch(header, { kid: undefined }), payload, attacker),
      forge(patch(header, { kid: 'sandbox_abc' }), payload, attacker),
      forge(patch(header, { kid: 'live_unknown' }), payload, attacker),
      forge(header, patch(payload, { env: 'sandbox' }), attacker),
      withPayload(s.ada, patch(payload, { exp: nowS - 60, iat: nowS - 360 })),
      withPayload(s.ada, patch(payload, { aud: 'site_other' })),
      `${s.ada.split('.').slice(0, 2).join('.')}.`,
      `${s.ada}=`,
    ];
    for (const token of [...genuine, ...forged, 'nope', '', 'a.b.c', 'vg_sandbox_test_verified']) {
      await same(token);
      await same(token, 'reports');
    }
    const before = counts(s.local).local;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...genuine), mutationsArb(), fc.option(fc.constantFrom('reports', 'analytics'), { nil: undefined }), async (token, mutations, productId) => {
        await same(applyMutations(token, mutations), productId);
      }),
      { numRuns: 150 },
    );
    // The comparison covered every outcome the site's key can see, and most answers came from here.
    expect([...outcomes].sort()).toEqual(['session_ended', 'token_invalid', 'token_malformed', 'token_wrong_environment', 'token_wrong_site', 'verified']);
    expect(counts(s.local).local - before).toBeGreaterThan(150);
  });
});

describe('local verification against a gateway process that stops (SIGSTOP)', () => {
  let deployment: Deployment;
  let gw: GatewayProcess;

  beforeAll(async () => {
    deployment = newDeployment({ redisUrl: testRedisUrl() });
    gw = await startGatewayProcess(deployment);
  });
  afterAll(async () => {
    process.kill(gw.pid, 'SIGCONT');
    await gw.stop();
    await endDeployment(deployment);
  });

  it('goes online once the heartbeats stop, and fails closed while the gateway cannot answer', async () => {
    const http = httpClient(gw, deployment.adminToken);
    const site = (await http.admin('POST', '/sites', { name: 'Frozen' })).body;
    const key = (await http.admin('POST', `/sites/${site.siteId as string}/api-keys`, { name: 'k' })).body;
    await http.admin('PUT', `/sites/${site.siteId as string}/users/ada`, { name: 'Ada' });
    const session = (await http.admin('POST', `/sites/${site.siteId as string}/users/ada/sessions`, {})).body;
    const token = (await http.call('live', 'POST', '/live_api/v1/users/verification-token', { headers: { Authorization: `Bearer ${session.sessionToken as string}` } })).body
      .userVerificationToken as string;
    const local = createVerigateClient({ apiKey: key.apiKey as string, baseUrl: gw.urls.live, verification: 'local', maxStalenessMs: 300, timeoutMs: 500, retries: 0 });
    try {
      await pollUntil(async () => local.localStatus()?.fresh, (f) => f === true, { what: 'a fresh stream' });
      await local.verifyUser(token);
      await pollUntil(async () => {
        const before = local.localStatus()?.localAnswers ?? 0;
        await local.verifyUser(token);
        return (local.localStatus()?.localAnswers ?? 0) > before;
      }, Boolean, { what: 'an answer from memory' });
      process.kill(gw.pid, 'SIGSTOP');
      await pollUntil(async () => local.localStatus()?.fresh, (f) => f === false, { what: 'the stream stale' });
      await expect(local.verifyUser(token)).rejects.toMatchObject({ code: 'timeout' });
      process.kill(gw.pid, 'SIGCONT');
      const back = await pollUntil(() => local.verifyUser(token).catch((e: unknown) => e), (r) => (r as VerificationResult).isAuthenticated === true, { what: 'the gateway back' });
      expect(back).toMatchObject({ isAuthenticated: true, userInfo: { userId: 'ada' } });
    } finally {
      await local.close();
    }
  });
});
