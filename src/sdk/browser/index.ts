/**
 * Entry point of the script build (dist/sdk/verigate.js): defines the global
 * `Verigate` and initialises it from its own script tag when asked to.
 */
import { createVerigate, type Verigate } from './client';
import { autoInit } from './script-tag';

export { createVerigate, TOKEN_REUSE_MARGIN_MS } from './client';
export type { InitOptions, ProductAccess, UserChangeListener, Verigate, VerigateUser } from './client';
export { VerigateError } from './errors';
export type { VerigateErrorCode } from './errors';
export { DEFAULT_BASE_URLS } from './environment';
export type { Environment } from './environment';
export type { StorageLike } from './storage';

declare global {
  // eslint-disable-next-line no-var
  var Verigate: Verigate | undefined;
}

const script = typeof document !== 'undefined' ? (document.currentScript as HTMLScriptElement | null) : null;
// Loaded from the gateway itself (the usual case), the script's origin is the gateway.
const scriptOrigin = script?.src ? new URL(script.src, location.href).origin : undefined;

// Included twice, the page keeps one instance (and its listeners).
const instance: Verigate = globalThis.Verigate ?? createVerigate({ scriptOrigin });
globalThis.Verigate = instance;
if (script) autoInit(instance, script);
