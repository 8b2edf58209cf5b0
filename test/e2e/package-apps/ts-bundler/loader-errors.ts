// loadVerigate's failures, in Chromium: a misconfiguration is refused before
// anything loads, an unreachable gateway is network_error, and a later call
// with the right base URL still loads the script.
import { loadVerigate, VerigateError, type LoadVerigateOptions } from '@verigate/browser';

declare const process: { env: Record<string, string> }; // replaced at bundle time

const outcome = (options: LoadVerigateOptions): Promise<string> =>
  loadVerigate(options).then(
    (verigate) => (verigate ? `loaded ${verigate.environment}` : 'null'),
    (err: unknown) => (err instanceof VerigateError ? err.code : `not a VerigateError: ${String(err)}`),
  );

const publishableKey = process.env.VERIGATE_PUBLISHABLE_KEY;
const result = {
  malformedKey: await outcome({ publishableKey: 'pk_test_123' }),
  otherEnvironment: await outcome({ publishableKey, sandbox: false }),
  unreachable: await outcome({ publishableKey, baseUrl: process.env.UNREACHABLE_URL }),
  unreachableAgain: await outcome({ publishableKey, baseUrl: process.env.UNREACHABLE_URL }),
  globalAfterFailures: typeof (globalThis as { Verigate?: unknown }).Verigate,
  gateway: await outcome({ publishableKey, baseUrl: process.env.VERIGATE_BASE_URL }),
  scripts: document.querySelectorAll('script[src$="/sdk/v1/verigate.js"]').length,
};
document.body.dataset.result = JSON.stringify(result);
