// The browser side, bundled by esbuild from @verigate/browser's ES module
// (createVerigate: no script from the gateway, no global). Served by the
// README app, whose /identity-token and /api/reports it calls.
import { createVerigate, type VerigateError, type VerigateUser } from '@verigate/browser';

declare const process: { env: Record<string, string> }; // replaced at bundle time

const verigate = createVerigate();
await verigate.init({ publishableKey: process.env.VERIGATE_PUBLISHABLE_KEY, baseUrl: process.env.VERIGATE_BASE_URL, storage: 'memory' });
const { identityToken } = (await (await fetch('/identity-token')).json()) as { identityToken: string };
const user: VerigateUser | null = await verigate.identify(identityToken);
const error: VerigateError | null = verigate.lastError;
const token = await verigate.getUserVerificationToken();
const res = await fetch('/api/reports', { headers: token ? { Authorization: `Bearer ${token}` } : {} });
document.body.dataset.result = JSON.stringify({
  user: user?.userId ?? null,
  error: error?.code ?? null,
  status: res.status,
  body: await res.json(),
  global: typeof (globalThis as { Verigate?: unknown }).Verigate,
});
