/**
 * The protocol's types, named. Every one is an alias of the types
 * openapi-typescript generates from the gateway's `openapi.yaml`
 * (`./generated/openapi.ts`), so they cannot drift from the contract; this
 * package imports nothing of the gateway's code.
 */
import type { components } from './generated/openapi.js';

type Schemas = components['schemas'];
// An interface can extend only a named type: these name the generated schemas.
type ProductAccessSchema = Schemas['ProductAccess'];
type UserInfoSchema = Schemas['UserInfo'];
type VerifiedSchema = Schemas['Verified'];
type NotVerifiedSchema = Schemas['NotVerified'];

/**
 * `live` or `sandbox`. Nothing crosses between them.
 *
 * @example
 * ```ts
 * const environment: Environment = verigate.environment; // 'live' | 'sandbox'
 * ```
 */
export type Environment = Schemas['Environment'];

/**
 * A flat attribute value (`#/components/schemas/Attributes`).
 *
 * @example
 * ```ts
 * const plan: AttributeValue = result.userInfo.attributes.plan ?? null;
 * ```
 */
export type AttributeValue = Schemas['Attributes'][string];

/**
 * One current product grant (`#/components/schemas/ProductAccess`). Expired
 * grants are never listed.
 *
 * @example
 * ```ts
 * const grant: ProductAccess = { productId: 'reports', expiresAt: null };
 * ```
 */
export interface ProductAccess extends ProductAccessSchema {}

/**
 * Who the verified visitor is (`#/components/schemas/UserInfo`).
 *
 * @example
 * ```ts
 * const greet = (u: UserInfo) => `Hello ${u.name ?? u.email ?? u.userId}`;
 * ```
 */
export interface UserInfo extends UserInfoSchema {}

/**
 * The token is valid and its session is signed in
 * (`#/components/schemas/Verified`). `hasProductAccess` is present when the
 * call named a `productId`.
 *
 * @example
 * ```ts
 * const result = await verigate.verifyUser(token);
 * if (result.isAuthenticated) console.log(result.userInfo.userId, result.sessionId);
 * ```
 */
export interface VerifiedUser extends VerifiedSchema {}

/**
 * A {@link VerifiedUser} from a call that named a `productId`:
 * `hasProductAccess` is always set.
 *
 * @example
 * ```ts
 * const result = await verigate.verifyUser(token, { productId: 'reports' });
 * if (result.isAuthenticated && result.hasProductAccess) showReports();
 * ```
 */
export interface VerifiedUserWithProduct extends VerifiedUser {
  readonly hasProductAccess: boolean;
}

/**
 * The token or its session is not valid (`#/components/schemas/NotVerified`).
 * Not an error: the API key was fine.
 *
 * @example
 * ```ts
 * const result = await verigate.verifyUser(token);
 * if (!result.isAuthenticated) console.log('refused:', result.reason);
 * ```
 */
export interface NotVerified extends NotVerifiedSchema {}

/**
 * Why a token did not verify: `token_malformed`, `token_invalid`,
 * `token_expired`, `token_wrong_environment`, `token_wrong_site`,
 * `session_ended` or `user_not_found`.
 *
 * @example
 * ```ts
 * const signedOut = (reason: NotVerifiedReason) => reason === 'session_ended';
 * ```
 */
export type NotVerifiedReason = Schemas['NotVerified']['reason'];

/**
 * Either answer of the exchange (`#/components/schemas/VerificationResult`);
 * narrow on `isAuthenticated`.
 *
 * @example
 * ```ts
 * function userIdOf(result: VerificationResult): string | null {
 *   return result.isAuthenticated ? result.userInfo.userId : null;
 * }
 * ```
 */
export type VerificationResult = VerifiedUser | NotVerified;

/**
 * Every `code` the gateway puts in an error body
 * (`#/components/schemas/ErrorCode`).
 *
 * @example
 * ```ts
 * const isKeyProblem = (code: ApiErrorCode) => code === 'invalid_api_key' || code === 'api_key_wrong_environment';
 * ```
 */
export type ApiErrorCode = Schemas['ErrorCode'];

/**
 * Why the gateway refused a customer-signed identity token (the `reason`
 * of `invalid_identity_token`; `#/components/schemas/IdentityTokenFailureReason`).
 *
 * @example
 * ```ts
 * const retryable = (reason: IdentityTokenFailureReason) => reason === 'expired';
 * ```
 */
export type IdentityTokenFailureReason = Schemas['IdentityTokenFailureReason'];
