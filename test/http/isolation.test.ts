import { adminClient, checked, exchange, startGateway, verificationTokenFor, type Provisioned, type TestGateway } from '../support/gateway';
import { dumpRedis, redisChannels } from '../support/redis-dump';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server';
import { generateCredential } from '../../src/domain/credentials';

/**
 * Live and sandbox share nothing (SPEC §1). Each describe runs its gateway on
 * a redis-server of its own, so a SCAN of everything there (`*`) sees every
 * key the gateway wrote, inside its prefix or not, and nothing of other tests.
 */
describe('environment isolation', () => {
  let server: RedisServerHandle;
  let gw: TestGateway;
  let live: ReturnType<typeof adminClient>;
  let sandbox: ReturnType<typeof adminClient>;
  let liveSite: Provisioned;
  let sandboxSite: Provisioned;
  let liveToken: string;
  let sandboxToken: string;

  beforeAll(async () => {
    server = await startRedisServer();
    gw = await startGateway({ redisUrl: server.url });
    live = adminClient(gw, 'live');
    sandbox = adminClient(gw, 'sandbox');
    liveSite = await live.provisionSite({ name: 'Live shop' });
    sandboxSite = await sandbox.provisionSite({ name: 'Sandbox shop' });
    await live.putUser(liveSite.siteId, 'shared-id', { email: 'live@example.com', attributes: { env: 'live' } });
    await sandbox.putUser(sandboxSite.siteId, 'shared-id', { email: 'sandbox@example.com', attributes: { env: 'sandbox' } });
    liveToken = await verificationTokenFor(gw, 'live', await live.createSession(liveSite.siteId, 'shared-id'));
    sandboxToken = await verificationTokenFor(gw, 'sandbox', await sandbox.createSession(sandboxSite.siteId, 'shared-id'));
  });
  afterAll(async () => {
    await gw?.close();
    await server?.stop();
  });

  it('the same userId in live and sandbox are two users', async () => {
    const l = await exchange(gw, 'live', liveSite.apiKey, { userVerificationToken: liveToken });
    const s = await exchange(gw, 'sandbox', sandboxSite.apiKey, { userVerificationToken: sandboxToken });
    expect(l.body).toMatchObject({ isAuthenticated: true, environment: 'live', userInfo: { userId: 'shared-id', email: 'live@example.com', attributes: { env: 'live' } } });
    expect(s.body).toMatchObject({ isAuthenticated: true, environment: 'sandbox', userInfo: { userId: 'shared-id', email: 'sandbox@example.com', attributes: { env: 'sandbox' } } });

    // Changing one leaves the other alone.
    await live.putUser(liveSite.siteId, 'shared-id', { name: 'Live only' });
    expect((await sandbox.call('get', `/sites/${sandboxSite.siteId}/users/shared-id`)).body.name).toBeNull();
    // Deleting one leaves the other alone.
    await sandbox.putUser(sandboxSite.siteId, 'to-delete');
    await live.putUser(liveSite.siteId, 'to-delete', { email: 'stays@example.com' });
    expect((await sandbox.call('delete', `/sites/${sandboxSite.siteId}/users/to-delete`)).status).toBe(204);
    expect((await live.call('get', `/sites/${liveSite.siteId}/users/to-delete`)).body.email).toBe('stays@example.com');
  });

  it('a sandbox API key on live: 401 api_key_wrong_environment, and the reverse', async () => {
    const onLive = await exchange(gw, 'live', sandboxSite.apiKey, { userVerificationToken: liveToken });
    expect(onLive.status).toBe(401);
    expect(onLive.body.code).toBe('api_key_wrong_environment');
    const onSandbox = await exchange(gw, 'sandbox', liveSite.apiKey, { userVerificationToken: sandboxToken });
    expect(onSandbox.status).toBe(401);
    expect(onSandbox.body.code).toBe('api_key_wrong_environment');
  });

  it('a sandbox verification token on live: token_wrong_environment, and the reverse', async () => {
    const onLive = await exchange(gw, 'live', liveSite.apiKey, { userVerificationToken: sandboxToken });
    expect(onLive.body).toMatchObject({ isAuthenticated: false, environment: 'live', userInfo: null, reason: 'token_wrong_environment' });
    const onSandbox = await exchange(gw, 'sandbox', sandboxSite.apiKey, { userVerificationToken: liveToken });
    expect(onSandbox.body).toMatchObject({ isAuthenticated: false, environment: 'sandbox', userInfo: null, reason: 'token_wrong_environment' });
  });

  it("a session token of one environment opens nothing in the other", async () => {
    const st = await sandbox.createSession(sandboxSite.siteId, 'shared-id');
    const res = checked(await gw.http('live').post('/live_api/v1/users/verification-token').set('Authorization', `Bearer ${st}`));
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('no_session');
    const status = checked(await gw.http('live').get('/live_api/v1/session').set('Authorization', `Bearer ${st}`));
    expect(status.body).toEqual({ isAuthenticated: false, user: null });
  });

  it('the admin API of one environment cannot see the other’s sites', async () => {
    const res = await live.call('get', `/sites/${sandboxSite.siteId}`);
    expect(res.status).toBe(404);
    expect(res.body.code).toBe('site_not_found');
    const back = await sandbox.call('get', `/sites/${liveSite.siteId}`);
    expect(back.status).toBe(404);
    expect(back.body.code).toBe('site_not_found');
    expect((await live.call('get', `/sites/${sandboxSite.siteId}/users/shared-id`)).body.code).toBe('site_not_found');
    expect((await live.call('post', `/sites/${sandboxSite.siteId}/api-keys`, { name: 'x' })).body.code).toBe('site_not_found');
    expect((await live.call('delete', `/sites/${sandboxSite.siteId}/api-keys/${sandboxSite.keyId}`)).body.code).toBe('site_not_found');
    const listed = (await live.call('get', '/sites')).body.sites.map((s: { siteId: string }) => s.siteId);
    expect(listed).toContain(liveSite.siteId);
    expect(listed).not.toContain(sandboxSite.siteId);
  });

  it('rotating the live signing key leaves sandbox tokens valid', async () => {
    const before = checked(await gw.http('sandbox').get('/.well-known/jwks.json')).body.keys;
    expect((await live.call('post', '/signing-keys/rotate')).status).toBe(200);
    expect(checked(await gw.http('sandbox').get('/.well-known/jwks.json')).body.keys).toEqual(before);
    const s = await exchange(gw, 'sandbox', sandboxSite.apiKey, { userVerificationToken: sandboxToken });
    expect(s.body.isAuthenticated).toBe(true);
  });

  it('every key and channel lives under <prefix>:live: or <prefix>:sandbox:', async () => {
    const dumped = await dumpRedis(server.url);
    expect(dumped.length).toBeGreaterThan(0);
    const outside = dumped.map((d) => d.key).filter((k) => !k.startsWith(`${gw.prefix}:live:`) && !k.startsWith(`${gw.prefix}:sandbox:`));
    expect(outside).toEqual([]);
    // Both environments did write.
    expect(dumped.some((d) => d.key.startsWith(`${gw.prefix}:live:`))).toBe(true);
    expect(dumped.some((d) => d.key.startsWith(`${gw.prefix}:sandbox:`))).toBe(true);

    const channels = await redisChannels(server.url);
    expect(channels).toEqual(expect.arrayContaining([`${gw.prefix}:live:invalidate`, `${gw.prefix}:sandbox:invalidate`]));
    expect(channels.filter((c) => !c.startsWith(`${gw.prefix}:live:`) && !c.startsWith(`${gw.prefix}:sandbox:`))).toEqual([]);
  });
});

describe('live writes only live keys', () => {
  let server: RedisServerHandle;
  let gw: TestGateway;
  beforeAll(async () => {
    server = await startRedisServer();
    gw = await startGateway({ redisUrl: server.url });
  });
  afterAll(async () => {
    await gw?.close();
    await server?.stop();
  });

  it('after provisioning and using only live, nothing is under <prefix>:sandbox: but (at most) its keyring', async () => {
    const live = adminClient(gw, 'live');
    const site = await live.provisionSite();
    await live.putUser(site.siteId, 'u1', { email: 'u1@example.com' });
    const st = await live.createSession(site.siteId, 'u1');
    const token = await verificationTokenFor(gw, 'live', st);
    expect((await exchange(gw, 'live', site.apiKey, { userVerificationToken: token })).body.isAuthenticated).toBe(true);
    const rolled = await live.call('post', `/sites/${site.siteId}/api-keys/${site.keyId}/roll`, { expiresInSeconds: 60 });
    expect(rolled.status).toBe(201);
    expect((await live.call('post', `/sites/${site.siteId}/security/rotate-identity-secret`, { graceSeconds: 60 })).status).toBe(200);
    expect((await live.call('post', '/signing-keys/rotate')).status).toBe(200);
    expect(checked(await gw.http('live').delete('/live_api/v1/session').set('Authorization', `Bearer ${st}`)).status).toBe(204);
    // A sandbox credential presented to live is refused, and writes nothing anywhere.
    const mixUp = await exchange(gw, 'live', generateCredential('sandbox', 'sk'), { userVerificationToken: token });
    expect(mixUp.body.code).toBe('api_key_wrong_environment');
    expect((await adminClient(gw, 'sandbox').call('get', '/sites')).body.sites).toEqual([]);

    const dumped = await dumpRedis(server.url);
    const liveKeys = dumped.filter((d) => d.key.startsWith(`${gw.prefix}:live:`));
    expect(liveKeys.length).toBeGreaterThan(5);
    const sandboxKeys = dumped.map((d) => d.key).filter((k) => k.startsWith(`${gw.prefix}:sandbox:`));
    expect(sandboxKeys.filter((k) => k !== `${gw.prefix}:sandbox:signing-keys`)).toEqual([]);
    expect(dumped.length).toBe(liveKeys.length + sandboxKeys.length);
  });
});
