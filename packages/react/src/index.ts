/**
 * `@verigate/react`: {@link VerigateProvider}, which signs the visitor in
 * with the identity token your backend signs, and the hooks
 * {@link useVerigateUser} and {@link useVerificationToken}. Built on
 * `@verigate/browser`'s ES module; importing it has no side effects.
 *
 * @packageDocumentation
 */
export { VerigateProvider } from './provider.js';
export type { VerigateProviderProps } from './provider.js';
export { useVerificationToken, useVerigate, useVerigateUser } from './hooks.js';
export type { Verigate, VerigateError, VerigateUser } from '@verigate/browser';
