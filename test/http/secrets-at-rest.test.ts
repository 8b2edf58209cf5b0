import { adminClient, checked, exchange, startGateway, verificationTokenFor, type TestGateway } from '../support/gateway';
import { dumpRedis, type DumpedKey } from '../support/redis-dump';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server';
import type { Environment } from '../../src/domain/environments';

/**
 * SPEC §6: nothing secret is stored in clear. A whole run's worth of data is
 * written, then every key and value of the gateway's Redis (one started for
 * this file, so a key outside the prefix is searched too) is searched for
 * every secret the run saw.
 */
describe('secrets at rest', () => {
  let server: RedisServerHandle;
  let gw: TestGateway;
  let dumped: DumpedKey[];
  /** label -> secret */
  const secrets = new Map<string, string>();

  beforeAll(async () => {
    server = await startRedisServer();
    gw = await startGateway({ redisUrl: server.url });
    secrets.set('admin token', gw.adminToken);
    secrets.set('master key (base64)', gw.masterKey.toString('base64'));
    secrets.set('master key (base64url)', gw.masterKey.toString('base64url'));
    secrets.set('master key (hex)', gw.masterKey.toString('hex'));

    for (const env of ['live', 'sandbox'] as Environment[]) {
      const admin = adminClient(gw, env);
      const site = await admin.provisionSite({ name: `${env} shop` });
      secrets.set(`${env} API key`, site.apiKey);
      secrets.set(`${env} identity secret`, site.identitySecret);

      const second = await admin.call('post', `/sites/${site.siteId}/api-keys`, { name: 'second' });
      secrets.set(`${env} second API key`, second.body.apiKey);
      const rolled = await admin.call('post', `/sites/${site.siteId}/api-keys/${second.body.keyId}/roll`, { expiresInSeconds: 300 });
      expect(rolled.status).toBe(201);
      secrets.set(`${env} rolled API key`, rolled.body.apiKey);

      const rotated = await admin.call('post', `/sites/${site.siteId}/security/rotate-identity-secret`, { graceSeconds: 600 });
      expect(rotated.status).toBe(200);
      secrets.set(`${env} rotated identity secret`, rotated.body.identitySecret);
      const revealed = await admin.call('get', `/sites/${site.siteId}/security`);
      expect(revealed.body.identitySecret).toBe(rotated.body.identitySecret);

      for (const userId of ['alice', 'bob']) {
        await admin.putUser(site.siteId, userId, { email: `${userId}@example.com`, attributes: { plan: 'pro' } });
        const st = await admin.createSession(site.siteId, userId);
        secrets.set(`${env} session token of ${userId}`, st);
        const token = await verificationTokenFor(gw, env, st);
        secrets.set(`${env} verification token of ${userId}`, token);
        secrets.set(`${env} verification token signature of ${userId}`, token.split('.')[2] as string);
        const res = await exchange(gw, env, site.apiKey, { userVerificationToken: token });
        expect(res.body.isAuthenticated).toBe(true);
        const res2 = await exchange(gw, env, rolled.body.apiKey, { userVerificationToken: token });
        expect(res2.body.isAuthenticated).toBe(true);
      }
      // One session ended by the visitor, one key revoked.
      const ended = await admin.createSession(site.siteId, 'alice');
      secrets.set(`${env} ended session token`, ended);
      expect(checked(await gw.http(env).delete('/live_api/v1/session').set('Authorization', `Bearer ${ended}`)).status).toBe(204);
      expect((await admin.call('delete', `/sites/${site.siteId}/api-keys/${site.keyId}`)).status).toBe(204);

      const rotation = await admin.call('post', '/signing-keys/rotate');
      expect(rotation.status).toBe(200);
      const afterRotation = await verificationTokenFor(gw, env, secrets.get(`${env} session token of bob`) as string);
      secrets.set(`${env} post-rotation verification token`, afterRotation);
    }

    dumped = await dumpRedis(server.url);
  });
  afterAll(async () => {
    await gw?.close();
    await server?.stop();
  });

  it('the run stored something in both environments', () => {
    expect(dumped.some((d) => d.key.startsWith(`${gw.prefix}:live:`))).toBe(true);
    expect(dumped.some((d) => d.key.startsWith(`${gw.prefix}:sandbox:`))).toBe(true);
    expect(dumped.some((d) => d.type === 'set')).toBe(true);
    // 4 process-wide secrets and 13 per environment.
    expect(secrets.size).toBe(4 + 2 * 13);
  });

  it('no secret appears in any key name or value', () => {
    const found: string[] = [];
    for (const { key, values } of dumped) {
      for (const [label, secret] of secrets) {
        // Also the random body of a credential without its prefix and checksum.
        const needles = [secret, ...(/^vg_[a-z]+_[a-z]{2}_/.test(secret) ? [secret.replace(/^vg_[a-z]+_[a-z]{2}_/, '').slice(0, 32)] : [])];
        for (const needle of needles) {
          if (key.includes(needle)) found.push(`${label} in key name ${key}`);
          if (values.some((v) => v.includes(needle))) found.push(`${label} in value of ${key}`);
        }
      }
    }
    expect(found).toEqual([]);
  });

  it('no value holds a private key in clear', () => {
    const offenders = dumped.filter(({ values }) => values.some((v) => /PRIVATE KEY/.test(v) || /-----BEGIN/.test(v)));
    expect(offenders.map((d) => d.key)).toEqual([]);
  });

  it('the search would find a stored credential: the (public) publishable key is stored as it is', async () => {
    const sites = (await adminClient(gw, 'live').call('get', '/sites')).body.sites as { publishableKey: string }[];
    const pk = sites[0]?.publishableKey as string;
    expect(pk).toMatch(/^vg_live_pk_/);
    expect(dumped.some(({ key, values }) => key.includes(pk) || values.some((v) => v.includes(pk)))).toBe(true);
  });

  it('the searched-for secrets are real: each one was seen by the API', () => {
    // A guard against a vacuous pass: the secrets have the shapes we expect.
    expect(secrets.get('live API key')).toMatch(/^vg_live_sk_/);
    expect(secrets.get('sandbox session token of bob')).toMatch(/^vg_sandbox_st_/);
    expect(secrets.get('live identity secret')).toMatch(/^vg_live_is_/);
    expect(secrets.get('live verification token of alice')?.split('.')).toHaveLength(3);
  });
});
