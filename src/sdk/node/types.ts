import type { ErrorCode } from '../../domain/errors';
/**
 * The exchange's answer, typed as openapi.yaml describes it
 * (`#/components/schemas/VerificationResult`). Kept free of server code: this
 * folder is what a customer's backend ships.
 */

/** `live` or `sandbox`. Nothing crosses between them. */
export type Environment = 'live' | 'sandbox';

/** A flat attribute value (`#/components/schemas/Attributes`). */
export type AttributeValue = string | number | boolean | null;

/**
 * One current product grant. Expired grants are never listed.
 *
 * @example
 * ```ts
 * const grant: ProductAccess = { productId: 'reports', expiresAt: null };
 * ```
 */
export interface ProductAccess {
  readonly productId: string;
  /** ISO 8601 instant, or `null` when the grant does not expire. */
  readonly expiresAt: string | null;
}

/**
 * Who the verified visitor is (`#/components/schemas/UserInfo`).
 *
 * @example
 * ```ts
 * const greet = (u: UserInfo) => `Hello ${u.name ?? u.email ?? u.userId}`;
 * ```
 */
export interface UserInfo {
  /** The customer's own user id (the identity token's `sub`). */
  readonly userId: string;
  readonly email: string | null;
  readonly name: string | null;
  readonly productAccess: readonly ProductAccess[];
  readonly attributes: Readonly<Record<string, AttributeValue>>;
}

/**
 * The token is valid and its session is signed in (`#/components/schemas/Verified`).
 *
 * @example
 * ```ts
 * const result = await verigate.verifyUser(token);
 * if (result.isAuthenticated) console.log(result.userInfo.userId, result.sessionId);
 * ```
 */
export interface VerifiedUser {
  readonly isAuthenticated: true;
  readonly environment: Environment;
  readonly userInfo: UserInfo;
  readonly sessionId: string;
  /** When the verification token itself expires (ISO 8601). */
  readonly tokenExpiresAt: string;
  /** Present when `verifyUser` was called with a `productId`. */
  readonly hasProductAccess?: boolean;
}

/**
 * A {@link VerifiedUser} from a call that named a `productId`: `hasProductAccess` is always set.
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
 * Why a token did not verify. Not an error: the API key was fine.
 *
 * @example
 * ```ts
 * const signedOut = (reason: NotVerifiedReason) => reason === 'session_ended';
 * ```
 */
export type NotVerifiedReason =
  | 'token_malformed'
  | 'token_invalid'
  | 'token_expired'
  | 'token_wrong_environment'
  | 'token_wrong_site'
  | 'session_ended'
  | 'user_not_found';

/**
 * The token or its session is not valid (`#/components/schemas/NotVerified`).
 *
 * @example
 * ```ts
 * const result = await verigate.verifyUser(token);
 * if (!result.isAuthenticated) console.log('refused:', result.reason);
 * ```
 */
export interface NotVerified {
  readonly isAuthenticated: false;
  readonly environment: Environment;
  readonly userInfo: null;
  readonly reason: NotVerifiedReason;
}

/**
 * Either answer of the exchange; narrow on `isAuthenticated`.
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
 * Every `code` the gateway puts in an error body (`#/components/schemas/ErrorCode`).
 *
 * @example
 * ```ts
 * const isKeyProblem = (code: ApiErrorCode) => code.endsWith('api_key') || code === 'api_key_wrong_environment';
 * ```
 */
export type ApiErrorCode = ErrorCode;
