/**
 * Sandbox fixtures (SPEC §9): `vg_sandbox_test_<outcome>` is answered with
 * that outcome for `test_user` by the sandbox exchange, with any valid
 * sandbox API key, and by nothing else: on live each is `token_malformed`,
 * an unknown one is `token_malformed` on the sandbox too, and the API key is
 * checked as for every exchange. Every answer is checked against openapi.yaml.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createVerigateClient } from '@verigate/node';
import { adminClient, exchange, startGateway, type Provisioned, type TestGateway } from '../support/gateway';
import { openApiDocument } from '../support/openapi';
import { SANDBOX_FIXTURE_OUTCOMES, SANDBOX_FIXTURE_REASONS } from '../../src/domain/sandbox-fixtures';

let gw: TestGateway;
let sandbox: Provisioned;
let otherSandbox: Provisioned;
let live: Provisioned;

beforeAll(async () => {
  gw = await startGateway();
  sandbox = await adminClient(gw, 'sandbox').provisionSite();
  otherSandbox = await adminClient(gw, 'sandbox').provisionSite({ name: 'Another sandbox shop' });
  live = await adminClient(gw, 'live').provisionSite();
});
afterAll(() => gw.close());

const REASONS = ['token_malformed', 'token_invalid', 'token_expired', 'token_wrong_environment', 'token_wrong_site', 'session_ended', 'user_not_found'];

/** The answer each verified fixture must give: productAccess, then hasProductAccess with a productId. */
const VERIFIED: [string, (productId: string | undefined) => { productId: string; expiresAt: null }[], boolean][] = [
  ['verified', () => [], false],
  ['verified_with_access', (productId) => [{ productId: productId ?? 'test_product', expiresAt: null }], true],
  ['verified_without_access', () => [], false],
];

const tokenExpiresAt = () => new Date((Math.floor(gw.clock.now() / 1000) + 300) * 1000).toISOString();

describe('on the sandbox listener', () => {
  describe.each(VERIFIED)('vg_sandbox_test_%s', (outcome, productAccess, access) => {
    const verified = (productId?: string) => ({
      isAuthenticated: true,
      environment: 'sandbox',
      userInfo: { userId: 'test_user', email: 'test_user@example.com', name: 'Test User', productAccess: productAccess(productId), attributes: {} },
      sessionId: 'sess_sandbox_test_user',
      tokenExpiresAt: tokenExpiresAt(),
    });

    it('without a productId: test_user, verified, no hasProductAccess', async () => {
      const res = await exchange(gw, 'sandbox', sandbox.apiKey, { userVerificationToken: `vg_sandbox_test_${outcome}` });
      expect(res.status).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.body).toEqual(verified());
    });

    it(`with a productId: hasProductAccess ${access}`, async () => {
      const res = await exchange(gw, 'sandbox', sandbox.apiKey, { userVerificationToken: `vg_sandbox_test_${outcome}`, productId: 'reports' });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ ...verified('reports'), hasProductAccess: access });
    });
  });

  it.each(REASONS)('vg_sandbox_test_%s: not verified, with that reason', async (reason) => {
    for (const productId of [undefined, 'reports']) {
      const res = await exchange(gw, 'sandbox', sandbox.apiKey, { userVerificationToken: `vg_sandbox_test_${reason}`, productId });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ isAuthenticated: false, environment: 'sandbox', userInfo: null, reason });
    }
  });

  it("with any valid sandbox API key, not only one site's", async () => {
    const res = await exchange(gw, 'sandbox', otherSandbox.apiKey, { userVerificationToken: 'vg_sandbox_test_verified_with_access', productId: 'x' });
    expect(res.body).toMatchObject({ isAuthenticated: true, userInfo: { userId: 'test_user' }, hasProductAccess: true });
  });

  it.each(['vg_sandbox_test_', 'vg_sandbox_test_nope', 'vg_sandbox_test_verified ', 'vg_sandbox_test_VERIFIED', 'xvg_sandbox_test_verified', 'vg_sandbox_test_verified_with_access_and_more'])(
    'an unknown fixture %j is token_malformed',
    async (token) => {
      const res = await exchange(gw, 'sandbox', sandbox.apiKey, { userVerificationToken: token });
      expect(res.body).toEqual({ isAuthenticated: false, environment: 'sandbox', userInfo: null, reason: 'token_malformed' });
    },
  );

  it('still needs a valid API key: missing, unknown, revoked or live keys are refused before any fixture', async () => {
    const body = { userVerificationToken: 'vg_sandbox_test_verified' };
    expect((await exchange(gw, 'sandbox', undefined, body)).body).toMatchObject({ status: 401, code: 'missing_api_key' });
    expect((await exchange(gw, 'sandbox', `${sandbox.apiKey.slice(0, 20)}${'0'.repeat(sandbox.apiKey.length - 20)}`, body)).body).toMatchObject({ status: 401, code: 'invalid_api_key' });
    expect((await exchange(gw, 'sandbox', live.apiKey, body)).body).toMatchObject({ status: 401, code: 'api_key_wrong_environment' });
    const admin = adminClient(gw, 'sandbox');
    const key = await admin.call('post', `/sites/${sandbox.siteId}/api-keys`, { name: 'revoked' });
    await admin.call('delete', `/sites/${sandbox.siteId}/api-keys/${key.body.keyId}`);
    expect((await exchange(gw, 'sandbox', key.body.apiKey, body)).body).toMatchObject({ status: 401, code: 'invalid_api_key' });
  });

  it('@verigate/node passes them through like any token', async () => {
    const client = createVerigateClient({ apiKey: sandbox.apiKey, baseUrl: gw.urls.sandbox });
    expect(await client.verifyUser('vg_sandbox_test_verified_without_access', { productId: 'reports' })).toMatchObject({
      isAuthenticated: true,
      hasProductAccess: false,
    });
    expect(await client.verifyUser('vg_sandbox_test_token_expired')).toMatchObject({ isAuthenticated: false, reason: 'token_expired' });
  });
});

describe('on the live listener', () => {
  it.each([...VERIFIED.map(([outcome]) => outcome), ...REASONS])('vg_sandbox_test_%s is token_malformed', async (outcome) => {
    for (const productId of [undefined, 'reports']) {
      const res = await exchange(gw, 'live', live.apiKey, { userVerificationToken: `vg_sandbox_test_${outcome}`, productId });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ isAuthenticated: false, environment: 'live', userInfo: null, reason: 'token_malformed' });
    }
  });
});

describe('documented', () => {
  it('one fixture per not-verified reason of openapi.yaml, and the three verified ones', () => {
    const schemas = (openApiDocument().components as { schemas: Record<string, { properties: Record<string, { enum?: string[] }> }> }).schemas;
    expect([...SANDBOX_FIXTURE_REASONS]).toEqual(schemas.NotVerified?.properties.reason?.enum);
    expect([...SANDBOX_FIXTURE_REASONS]).toEqual(REASONS);
    expect([...SANDBOX_FIXTURE_OUTCOMES]).toEqual([...VERIFIED.map(([outcome]) => outcome), ...REASONS]);
  });

  it('every fixture token is an example of the exchange in openapi.yaml and is listed in README.md', () => {
    const paths = openApiDocument().paths as Record<string, { post: { requestBody: { content: Record<string, { examples: Record<string, { value: { userVerificationToken: string } }> }> } } }>;
    const examples = Object.values(paths['/live_api/s2s/v1/users/verification']?.post.requestBody.content['application/json']?.examples ?? {}).map(
      (e) => e.value.userVerificationToken,
    );
    const readme = readFileSync(resolve(__dirname, '../../README.md'), 'utf8');
    for (const outcome of SANDBOX_FIXTURE_OUTCOMES) {
      expect(examples).toContain(`vg_sandbox_test_${outcome}`);
      expect(readme).toContain(`\`vg_sandbox_test_${outcome}\``);
    }
  });
});
