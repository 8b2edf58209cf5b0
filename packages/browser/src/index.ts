/**
 * `@verigate/browser`: the verigate browser SDK as an ES module for
 * bundlers, and {@link loadVerigate}, which loads the script the gateway
 * serves instead. Importing it has no side effects: no global, no request,
 * no listener until you call something.
 *
 * @packageDocumentation
 */
export { createVerigate, TOKEN_REUSE_MARGIN_MS } from './client.js';
export type { InitOptions, UserChangeListener, Verigate } from './client.js';
export type { VerigateCommandFunction } from './command-queue.js';
export { loadVerigate, SCRIPT_PATH } from './loader.js';
export type { LoadVerigateOptions } from './loader.js';
export { VerigateError } from './errors.js';
export type { VerigateErrorCode } from './errors.js';
export { DEFAULT_BASE_URLS } from './environment.js';
export type { ApiErrorCode, Environment, IdentityTokenFailureReason, ProductAccess, VerigateUser } from './protocol.js';
export type { StorageLike } from './storage.js';
