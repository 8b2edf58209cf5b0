import type { Verigate } from './client.js';
import { takeLoginLinkToken } from './login-link.js';

/**
 * Initialises from the script tag that loaded the SDK:
 *
 * ```html
 * <script src="https://api.example.com/sdk/v1/verigate.js"
 *         data-verigate-key="vg_live_pk_…"
 *         data-verigate-identity="<identity token, or empty when nobody is signed in>"
 *         data-verigate-base-url="https://api.example.com"></script>
 * ```
 *
 * `data-verigate-key` turns auto-init on. `data-verigate-identity` signs the
 * visitor in when it holds a token, and signs out when present but empty (the
 * page is telling us nobody is signed in); absent, the stored session is kept.
 * A login link (`?verigate_identity=<identity token>` in the page's address)
 * is taken out of the address at once and signs the visitor in, over the
 * attribute. Without `data-verigate-base-url`, calls go to the origin the script came from.
 * Errors go to the console: there is no caller to throw to.
 */
export function autoInit(verigate: Verigate, script: HTMLScriptElement): void {
  const publishableKey = script.getAttribute('data-verigate-key');
  if (!publishableKey) return;
  // A login link's token first, synchronously, while this script runs: no later script sees it.
  const loginLink = takeLoginLinkToken();
  try {
    void verigate.init({ publishableKey, baseUrl: script.getAttribute('data-verigate-base-url') || undefined, loginLink: false });
  } catch (err) {
    console.error(err);
    return;
  }
  // The link says who is signing in, over whatever the page rendered.
  if (loginLink) return void verigate.identify(loginLink);
  const identity = script.getAttribute('data-verigate-identity');
  if (identity !== null) void (identity ? verigate.identify(identity) : verigate.resetUser());
}
