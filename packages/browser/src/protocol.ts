/**
 * The protocol's types the page sees, named: aliases of the types
 * openapi-typescript generates from the gateway's `openapi.yaml`
 * (`./generated/openapi.ts`), so they cannot drift from the contract.
 */
import type { components } from './generated/openapi.js';

type Schemas = components['schemas'];
// An interface can extend only a named type: these name the generated schemas.
type ProductAccessSchema = Schemas['ProductAccess'];
type UserSchema = Schemas['User'];

/**
 * `live` or `sandbox`. Nothing crosses between them.
 *
 * @example
 * ```ts
 * const environment: Environment | null = verigate.environment;
 * ```
 */
export type Environment = Schemas['Environment'];

/**
 * One current product grant of the signed-in visitor (`#/components/schemas/ProductAccess`).
 *
 * @example
 * ```ts
 * const canOpenReports = verigate.user?.productAccess.some((p: ProductAccess) => p.productId === 'reports') ?? false;
 * ```
 */
export interface ProductAccess extends ProductAccessSchema {}

/**
 * The signed-in visitor, as the gateway describes it (`#/components/schemas/User`).
 * For display only: your backend must trust nothing the page says, and
 * learns who the visitor is from the exchange (`@verigate/node`).
 *
 * @example
 * ```ts
 * verigate.on('userChange', (user: VerigateUser | null) => {
 *   greeting.textContent = user ? `Hello ${user.name ?? user.userId}` : 'Signed out';
 * });
 * ```
 */
export interface VerigateUser extends UserSchema {}

/**
 * Every `code` the gateway puts in an error body (`#/components/schemas/ErrorCode`).
 *
 * @example
 * ```ts
 * const mine = (code: ApiErrorCode) => code === 'origin_not_allowed';
 * ```
 */
export type ApiErrorCode = Schemas['ErrorCode'];

/**
 * Why the gateway refused an identity token (the `reason` of
 * `invalid_identity_token`; `#/components/schemas/IdentityTokenFailureReason`).
 *
 * @example
 * ```ts
 * if (verigate.lastError?.reason === 'expired') refreshIdentityToken();
 * ```
 */
export type IdentityTokenFailureReason = Schemas['IdentityTokenFailureReason'];
