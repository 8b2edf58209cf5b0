/**
 * `@verigate/node`: exchange the browser's verification token for a trusted
 * user object, and guard routes with it: Express (`requireVerifiedUser`),
 * fetch-API servers (`authenticateRequest`) and, from
 * `@verigate/node/fastify`, Fastify. No dependencies; importing it starts
 * nothing and sends nothing.
 *
 * @packageDocumentation
 */
export { createVerigateClient } from './client.js';
export type { VerigateClient, VerigateClientOptions, VerifyUserOptions } from './client.js';
export type { LocalVerificationStatus } from './local/local-verifier.js';
export { requireVerifiedUser } from './express.js';
export type { ExpressRequestLike, ExpressResponseLike, RequireVerifiedUserOptions } from './express.js';
export { authenticateRequest } from './fetch.js';
export type { AuthenticatedRequest, AuthenticateRequestOptions } from './fetch.js';
export type { GuardOptions, GuardProblem, GuardProblemCode, UnauthenticatedReason, VerigateLogger } from './guard.js';
export { VerigateError, VerigateApiError } from './errors.js';
export type { ClientErrorCode, VerigateErrorCode } from './errors.js';
export { DEFAULT_BASE_URLS } from './environment.js';
export { verifyWebhook } from './webhooks.js';
export type { VerifyWebhookOptions, WebhookEvent, WebhookHeaders } from './webhooks.js';
export type {
  ApiErrorCode,
  AttributeValue,
  Environment,
  IdentityTokenFailureReason,
  NotVerified,
  NotVerifiedReason,
  ProductAccess,
  UserInfo,
  VerificationResult,
  VerifiedUser,
  VerifiedUserWithProduct,
} from './protocol.js';
