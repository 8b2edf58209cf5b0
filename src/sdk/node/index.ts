/**
 * verigate for a customer's backend: exchange the browser's verification
 * token for a trusted user object, and guard Express routes with it.
 */
export { createVerigateClient } from './client';
export type { VerigateClient, VerigateClientOptions, VerifyUserOptions } from './client';
export { requireVerifiedUser } from './middleware';
export type { RequireVerifiedUserOptions, UnauthenticatedReason } from './middleware';
export { VerigateError, VerigateApiError } from './errors';
export type { VerigateErrorCode, ClientErrorCode } from './errors';
export { DEFAULT_BASE_URLS } from './environment';
export type {
  ApiErrorCode,
  AttributeValue,
  Environment,
  NotVerified,
  NotVerifiedReason,
  ProductAccess,
  UserInfo,
  VerificationResult,
  VerifiedUser,
  VerifiedUserWithProduct,
} from './types';
