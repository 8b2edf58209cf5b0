import { SignJWT } from 'jose';
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { adminClient, checked, exchange, startGateway, verificationTokenFor, type Provisioned, type TestGateway } from '../support/gateway';
import { generateCredential } from '../../src/domain/credentials';

let gw: TestGateway;
let admin: ReturnType<typeof adminClient>;
let site: Provisioned;
let sessionToken: string;
let token: string;

beforeAll(async () => {
  gw = await startGateway();
  admin = adminClient(gw, 'live');
  site = await admin.provisionSite();
  await admin.putUser(site.siteId, 'user-1', {
    email: 'ada@example.com',
    name: 'Ada',
    attributes: { plan: 'pro' },
    productAccess: [
      { productId: 'reports', expiresAt: null },
      { productId: 'old', expiresAt: new Date(gw.clock.now() - 1000).toISOString() },
    ],
  });
  sessionToken = await admin.createSession(site.siteId, 'user-1');
  token = await verificationTokenFor(gw, 'live', sessionToken);
});
afterAll(() => gw.close());

describe('POST /live_api/s2s/v1/users/verification', () => {
  it('answers a verified user object, without expired product access, and no-store', async () => {
    const res = await exchange(gw, 'live', site.apiKey, { userVerificationToken: token });
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toMatchObject({
      isAuthenticated: true,
      environment: 'live',
      userInfo: {
        userId: 'user-1',
        email: 'ada@example.com',
        name: 'Ada',
        attributes: { plan: 'pro' },
        productAccess: [{ productId: 'reports', expiresAt: null }],
      },
    });
    expect(res.body.sessionId).toMatch(/^sess_/);
    expect(res.body).not.toHaveProperty('hasProductAccess');
  });

  it('may exchange the same token again until it expires', async () => {
    const again = await exchange(gw, 'live', site.apiKey, { userVerificationToken: token });
    expect(again.body.isAuthenticated).toBe(true);
  });

  it.each([
    ['reports', true],
    ['old', false],
    ['never', false],
  ])('reports hasProductAccess for %s as %s', async (productId, expected) => {
    const res = await exchange(gw, 'live', site.apiKey, { userVerificationToken: token, productId });
    expect(res.body.isAuthenticated).toBe(true);
    expect(res.body.hasProductAccess).toBe(expected);
  });

  describe('not verified (200, isAuthenticated false)', () => {
    const refused = async (userVerificationToken: string, apiKey = site.apiKey) => {
      const res = await exchange(gw, 'live', apiKey, { userVerificationToken });
      expect(res.status).toBe(200);
      expect(res.body.isAuthenticated).toBe(false);
      expect(res.body.userInfo).toBeNull();
      expect(res.body.environment).toBe('live');
      return res.body.reason as string;
    };

    it('token_malformed: not a JWT', async () => {
      expect(await refused('')).toBe('token_malformed');
      expect(await refused('abc')).toBe('token_malformed');
      expect(await refused('a.b')).toBe('token_malformed');
      expect(await refused(`${token}.x`)).toBe('token_malformed');
      expect(await refused('!!!.###.$$$')).toBe('token_malformed');
    });

    it('token_invalid: tampered payload', async () => {
      const [h, p, s] = token.split('.') as [string, string, string];
      const payload = JSON.parse(Buffer.from(p, 'base64url').toString());
      payload.sub = 'someone-else';
      const forged = `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`;
      expect(await refused(forged)).toBe('token_invalid');
    });

    it('token_invalid: signed by a key that is not ours, with our kid', async () => {
      const [h, p] = token.split('.') as [string, string, string];
      const header = JSON.parse(Buffer.from(h, 'base64url').toString());
      const payload = JSON.parse(Buffer.from(p, 'base64url').toString());
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const forged = await new SignJWT(payload).setProtectedHeader(header).sign(createPrivateKey(privateKey.export({ format: 'pem', type: 'pkcs8' })));
      expect(await refused(forged)).toBe('token_invalid');
    });

    it('token_expired: past exp (beyond the 5 s tolerance)', async () => {
      const fresh = await verificationTokenFor(gw, 'live', sessionToken);
      gw.clock.advance(306_000);
      try {
        expect(await refused(fresh)).toBe('token_expired');
      } finally {
        gw.clock.advance(-306_000);
      }
    });

    it('accepts a token within the 5 s clock tolerance', async () => {
      const fresh = await verificationTokenFor(gw, 'live', sessionToken);
      gw.clock.advance(303_000);
      try {
        const res = await exchange(gw, 'live', site.apiKey, { userVerificationToken: fresh });
        expect(res.body.isAuthenticated).toBe(true);
      } finally {
        gw.clock.advance(-303_000);
      }
    });

    it('token_wrong_site: a token issued for another site of the same environment', async () => {
      const other = await admin.provisionSite({ name: 'Other' });
      expect(await refused(token, other.apiKey)).toBe('token_wrong_site');
    });

    it('token_wrong_environment: a sandbox token presented to live', async () => {
      const sandbox = adminClient(gw, 'sandbox');
      const sbSite = await sandbox.provisionSite();
      await sandbox.putUser(sbSite.siteId, 'user-1');
      const sbToken = await verificationTokenFor(gw, 'sandbox', await sandbox.createSession(sbSite.siteId, 'user-1'));
      expect(await refused(sbToken)).toBe('token_wrong_environment');
    });

    it('session_ended: after sign-out (DELETE /live_api/v1/session)', async () => {
      const st = await admin.createSession(site.siteId, 'user-1');
      const t = await verificationTokenFor(gw, 'live', st);
      const out = checked(await gw.http('live').delete('/live_api/v1/session').set('Authorization', `Bearer ${st}`));
      expect(out.status).toBe(204);
      expect(await refused(t)).toBe('session_ended');
      // A re-encoded copy of the same token reads the same session state.
      expect(await refused(`${t}\n`)).toBe('token_malformed');
    });

    it('session_ended: after the admin ends all sessions of the user', async () => {
      await admin.putUser(site.siteId, 'user-2');
      const t = await verificationTokenFor(gw, 'live', await admin.createSession(site.siteId, 'user-2'));
      const end = await admin.call('delete', `/sites/${site.siteId}/users/user-2/sessions`);
      expect(end.status).toBe(204);
      expect(await refused(t)).toBe('session_ended');
    });

    it('session_ended: idle timeout passed', async () => {
      await admin.putUser(site.siteId, 'idle');
      const st = await admin.createSession(site.siteId, 'idle', { idleTimeoutSeconds: 60 });
      const t = await verificationTokenFor(gw, 'live', st);
      gw.clock.advance(61_000);
      try {
        // Still inside the token's 5 minutes, but the session went idle.
        expect(await refused(t)).toBe('session_ended');
      } finally {
        gw.clock.advance(-61_000);
      }
    });

    it('session_ended: the user was deleted (which ends their sessions)', async () => {
      await admin.putUser(site.siteId, 'gone');
      const t = await verificationTokenFor(gw, 'live', await admin.createSession(site.siteId, 'gone'));
      expect((await admin.call('delete', `/sites/${site.siteId}/users/gone`)).status).toBe(204);
      expect(await refused(t)).toBe('session_ended');
    });

    it('user_not_found: the session lives but the user record is gone', async () => {
      await admin.putUser(site.siteId, 'orphan');
      const t = await verificationTokenFor(gw, 'live', await admin.createSession(site.siteId, 'orphan'));
      // Remove only the user record, as a partial failure might.
      await gw.stores.live.write([{ op: 'del', key: `{${site.siteId}}:user:orphan` }]);
      expect(await refused(t)).toBe('user_not_found');
    });
  });

  describe('API key rejections', () => {
    const problem = async (apiKey: string | undefined, status: number, code: string) => {
      const res = await exchange(gw, 'live', apiKey, { userVerificationToken: token });
      expect(res.status).toBe(status);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body.code).toBe(code);
      return res;
    };

    it('401 missing_api_key', async () => {
      await problem(undefined, 401, 'missing_api_key');
      await problem('', 401, 'missing_api_key');
    });

    it('401 invalid_api_key: bad checksum (a typo), truncated, or junk', async () => {
      const typo = site.apiKey.slice(0, 20) + (site.apiKey[20] === 'a' ? 'b' : 'a') + site.apiKey.slice(21);
      await problem(typo, 401, 'invalid_api_key');
      await problem(site.apiKey.slice(0, -1), 401, 'invalid_api_key');
      await problem('not-a-key', 401, 'invalid_api_key');
    });

    it('401 invalid_api_key: well-formed but unknown', async () => {
      await problem(generateCredential('live', 'sk'), 401, 'invalid_api_key');
    });

    describe('the credential checksum, by the SPEC’s rule (computed by hand, not by the gateway’s helper)', () => {
      // CRC32("vg_live_sk_0123456789ABCDEFGHIJKLMNOPQRSTUV") = 0x280B8D31 = 671845681
      //   = 0·62^5 + 45·62^4 + 28·62^3 + 61·62^2 + 46·62 + 41 → "0" "j" "S" "z" "k" "f" (0-9A-Za-z, padded to 6);
      // test/unit/credentials.test.ts checks that CRC32 against a reference implementation.
      const HAND_MADE = 'vg_live_sk_0123456789ABCDEFGHIJKLMNOPQRSTUV0jSzkf';

      it('a key with the right checksum is well-formed: looked up, and refused as unknown', async () => {
        const res = await problem(HAND_MADE, 401, 'invalid_api_key');
        expect(res.body.detail).toBe('Unknown API key');
      });

      it('the same key with its checksum one character off is refused as malformed, without a lookup', async () => {
        const res = await problem(`${HAND_MADE.slice(0, -1)}g`, 401, 'invalid_api_key');
        expect(res.body.detail).toMatch(/malformed/);
      });
    });

    it('401 invalid_api_key: a publishable key is not a secret key', async () => {
      await problem(site.publishableKey, 401, 'invalid_api_key');
    });

    it('401 api_key_wrong_environment: a sandbox key on live', async () => {
      const res = await problem(generateCredential('sandbox', 'sk'), 401, 'api_key_wrong_environment');
      expect(res.body.detail).toMatch(/sandbox/);
    });

    it('401 invalid_api_key: revoked', async () => {
      const key = await admin.call('post', `/sites/${site.siteId}/api-keys`, { name: 'temp' });
      expect((await exchange(gw, 'live', key.body.apiKey, { userVerificationToken: token })).status).toBe(200);
      expect((await admin.call('delete', `/sites/${site.siteId}/api-keys/${key.body.keyId}`)).status).toBe(204);
      await problem(key.body.apiKey, 401, 'invalid_api_key');
    });

    it('401 invalid_api_key: expired', async () => {
      const expiresAt = new Date(gw.clock.now() + 60_000).toISOString();
      const key = await admin.call('post', `/sites/${site.siteId}/api-keys`, { name: 'short', expiresAt });
      expect(key.status).toBe(201);
      gw.clock.advance(61_000);
      try {
        await problem(key.body.apiKey, 401, 'invalid_api_key');
      } finally {
        gw.clock.advance(-61_000);
      }
    });

    it('rolled key: the old key works until its roll expiry, then stops; the new one works', async () => {
      const key = await admin.call('post', `/sites/${site.siteId}/api-keys`, { name: 'rolling' });
      const rolled = await admin.call('post', `/sites/${site.siteId}/api-keys/${key.body.keyId}/roll`, { expiresInSeconds: 120 });
      expect(rolled.status).toBe(201);
      expect(rolled.body.apiKey).not.toBe(key.body.apiKey);
      expect((await exchange(gw, 'live', key.body.apiKey, { userVerificationToken: token })).status).toBe(200);
      gw.clock.advance(121_000);
      try {
        const fresh = await verificationTokenFor(gw, 'live', sessionToken);
        await expect(exchange(gw, 'live', key.body.apiKey, { userVerificationToken: fresh })).resolves.toMatchObject({ status: 401 });
        expect((await exchange(gw, 'live', rolled.body.apiKey, { userVerificationToken: fresh })).body.isAuthenticated).toBe(true);
      } finally {
        gw.clock.advance(-121_000);
      }
    });

    it('checks the key before reading the body', async () => {
      const res = await gw.http('live').post('/live_api/s2s/v1/users/verification').set('X-API-KEY', 'nope').set('Content-Type', 'text/plain').send('hello');
      expect(checked(res).body.code).toBe('invalid_api_key');
    });
  });

  describe('request rejections', () => {
    const send = (req: ReturnType<TestGateway['http']>) => req.post('/live_api/s2s/v1/users/verification').set('X-API-KEY', site.apiKey);

    it.each([
      ['an array', []],
      ['a string', 'token'],
      ['no token', {}],
      ['a number token', { userVerificationToken: 42 }],
      ['an unknown member', { userVerificationToken: token, extra: 1 }],
      ['an empty productId', { userVerificationToken: token, productId: '' }],
    ])('400 invalid_request for %s', async (_label, body) => {
      const res = checked(await send(gw.http('live')).set('Content-Type', 'application/json').send(JSON.stringify(body)));
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('invalid_request');
      expect(res.body.errors.length).toBeGreaterThan(0);
    });

    it('400 invalid_request for an empty body', async () => {
      const res = checked(await send(gw.http('live')));
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('invalid_request');
    });

    it('400 invalid_json', async () => {
      const res = checked(await send(gw.http('live')).set('Content-Type', 'application/json').send('{"userVerificationToken":'));
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('invalid_json');
    });

    it('413 payload_too_large past 16 KiB', async () => {
      const res = checked(await send(gw.http('live')).send({ userVerificationToken: 'x'.repeat(17 * 1024) }));
      expect(res.status).toBe(413);
      expect(res.body.code).toBe('payload_too_large');
    });

    it('415 unsupported_media_type for a form body', async () => {
      const res = checked(await send(gw.http('live')).type('form').send('userVerificationToken=abc'));
      expect(res.status).toBe(415);
      expect(res.body.code).toBe('unsupported_media_type');
    });

    it('405 method_not_allowed with Allow', async () => {
      const res = checked(await gw.http('live').get('/live_api/s2s/v1/users/verification'));
      expect(res.status).toBe(405);
      expect(res.headers.allow).toBe('POST');
      expect(res.body.code).toBe('method_not_allowed');
    });

    it('404 not_found for an unknown path', async () => {
      const res = checked(await gw.http('live').get('/live_api/s2s/v2/nothing'));
      expect(res.status).toBe(404);
      expect(res.body.code).toBe('not_found');
    });
  });
});
