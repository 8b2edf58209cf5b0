import type { Verigate } from './client.js';

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
 * Without `data-verigate-base-url`, calls go to the origin the script came from.
 * Errors go to the console: there is no caller to throw to.
 */
export function autoInit(verigate: Verigate, script: HTMLScriptElement): void {
  const publishableKey = script.getAttribute('data-verigate-key');
  if (!publishableKey) return;
  try {
    void verigate.init({ publishableKey, baseUrl: script.getAttribute('data-verigate-base-url') || undefined });
  } catch (err) {
    console.error(err);
    return;
  }
  const identity = script.getAttribute('data-verigate-identity');
  if (identity !== null) void (identity ? verigate.identify(identity) : verigate.resetUser());
}
