import type { VerigateClient } from './client.js';
import { guardRequest, type GuardOptions } from './guard.js';
import type { VerifiedUser } from './protocol.js';

/**
 * What {@link authenticateRequest} found: the verified user, or the
 * `Response` to send instead (401, 403, 500 or 503, `application/problem+json`).
 *
 * @example
 * ```ts
 * const auth: AuthenticatedRequest = await authenticateRequest(verigate, request);
 * if (!auth.ok) return auth.response;
 * console.log(auth.user.userInfo.userId);
 * ```
 */
export type AuthenticatedRequest = { readonly ok: true; readonly user: VerifiedUser } | { readonly ok: false; readonly response: Response };

/**
 * Options of {@link authenticateRequest}.
 *
 * @example
 * ```ts
 * const options: AuthenticateRequestOptions = { productId: 'reports' };
 * ```
 */
export interface AuthenticateRequestOptions extends GuardOptions {}

/**
 * The guard for fetch-API servers (Next.js route handlers, Hono, Deno,
 * Bun, workers): reads `Authorization: Bearer <verification token>` from a
 * `Request`, verifies it, and resolves either the user or the refusal to
 * return, with the same answers as {@link requireVerifiedUser} (401
 * `not_authenticated`, 403 `product_access_required`, 503
 * `verification_unavailable`, 500 `verification_misconfigured` with one
 * log line). Never rejects for a verdict.
 *
 * @example
 * ```ts
 * // app/api/reports/route.ts (Next.js)
 * import { authenticateRequest, createVerigateClient } from '@verigate/node';
 *
 * const verigate = createVerigateClient({ apiKey: process.env.VERIGATE_API_KEY!, baseUrl: process.env.VERIGATE_BASE_URL });
 *
 * export async function GET(request: Request): Promise<Response> {
 *   const auth = await authenticateRequest(verigate, request, { productId: 'reports' });
 *   if (!auth.ok) return auth.response;
 *   return Response.json({ hello: auth.user.userInfo.name });
 * }
 * ```
 */
export async function authenticateRequest(
  client: VerigateClient,
  request: { readonly headers: { get(name: string): string | null } },
  options: AuthenticateRequestOptions = {},
): Promise<AuthenticatedRequest> {
  if (!client || typeof client.verifyUser !== 'function') {
    throw new TypeError('authenticateRequest needs a client from createVerigateClient()');
  }
  const outcome = await guardRequest(client, request.headers.get('authorization'), options);
  if (outcome.ok) return { ok: true, user: outcome.user };
  return { ok: false, response: new Response(JSON.stringify(outcome.problem), { status: outcome.status, headers: outcome.headers }) };
}
