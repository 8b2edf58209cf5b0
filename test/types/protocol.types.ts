/**
 * The gateway's own unions equal openapi.yaml's enums, as the packages see
 * them (their types are generated from openapi.yaml; a runtime check of the
 * same, and of the generation itself, is test/unit/protocol-types.test.ts).
 * Checked by `tsc --noEmit` (npm run typecheck), never run.
 */
import type { ApiErrorCode, IdentityTokenFailureReason, NotVerifiedReason } from '@verigate/node';
import type { ApiErrorCode as BrowserApiErrorCode, IdentityTokenFailureReason as BrowserReason } from '@verigate/browser';
import type { ErrorCode } from '../../src/domain/errors';
import type { NotVerifiedReason as GatewayNotVerifiedReason } from '../../src/domain/exchange';
import type { IdentityTokenFailure, SignInRefusal } from '../../src/domain/identity-tokens';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const assertType = <T extends true>(_: T): void => undefined;

assertType<Equal<ErrorCode, ApiErrorCode>>(true);
assertType<Equal<ErrorCode, BrowserApiErrorCode>>(true);
assertType<Equal<GatewayNotVerifiedReason, NotVerifiedReason>>(true);
assertType<Equal<IdentityTokenFailure | SignInRefusal, IdentityTokenFailureReason>>(true);
assertType<Equal<IdentityTokenFailure | SignInRefusal, BrowserReason>>(true);
