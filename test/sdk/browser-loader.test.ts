/**
 * loadVerigate where there is no page (server-side rendering, Node): it
 * resolves null and loads nothing, but still refuses a misconfiguration.
 * In a page it is driven by test/e2e/packages.e2e.test.ts (Chromium).
 */
import { loadVerigate, VerigateError } from '@verigate/browser';
import { generateCredential } from '../../src/domain/credentials';

it('resolves null without a document, defining no global', async () => {
  expect(typeof document).toBe('undefined');
  await expect(loadVerigate({ publishableKey: generateCredential('sandbox', 'pk') })).resolves.toBeNull();
  expect((globalThis as { Verigate?: unknown }).Verigate).toBeUndefined();
});

it.each([
  ['a secret key', () => ({ publishableKey: generateCredential('live', 'sk') }), 'invalid_publishable_key'],
  ['a key of the other environment', () => ({ publishableKey: generateCredential('live', 'pk'), sandbox: true }), 'publishable_key_wrong_environment'],
])('rejects %s with a VerigateError, even without a document', async (_what, options, code) => {
  const err = await loadVerigate(options()).then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(VerigateError);
  expect(err).toMatchObject({ code });
});
