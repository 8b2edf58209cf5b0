/**
 * Type tests of @verigate/node: checked by `tsc --noEmit` (npm run typecheck),
 * never run. Each `@ts-expect-error` line must fail to compile, or tsc fails.
 */
import express from 'express';
import Fastify from 'fastify';
import {
  authenticateRequest,
  createVerigateClient,
  requireVerifiedUser,
  VerigateApiError,
  VerigateError,
  type ApiErrorCode,
  type NotVerified,
  type NotVerifiedReason,
  type VerificationResult,
  type VerifiedUser,
  type VerifiedUserWithProduct,
  type VerigateClient,
  type VerigateErrorCode,
} from '@verigate/node';
import { verigateFastify } from '@verigate/node/fastify';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const assertType = <T extends true>(_: T): void => undefined;

declare const token: string;
const client: VerigateClient = createVerigateClient({ apiKey: 'vg_live_sk_…', timeoutMs: 2000, retries: 1 });

// @ts-expect-error apiKey is required
createVerigateClient({ sandbox: true });
// @ts-expect-error sandbox is a boolean
createVerigateClient({ apiKey: 'k', sandbox: 'yes' });
// @ts-expect-error unknown option
createVerigateClient({ apiKey: 'k', timeout: 5 });

async function verifying(): Promise<void> {
  const plain = await client.verifyUser(token);
  assertType<Equal<typeof plain, VerificationResult>>(true);
  if (plain.isAuthenticated) {
    assertType<Equal<typeof plain, VerifiedUser>>(true);
    const id: string = plain.userInfo.userId;
    const email: string | null = plain.userInfo.email;
    const product: boolean | undefined = plain.hasProductAccess;
    // @ts-expect-error hasProductAccess may be missing without productId
    const strict: boolean = plain.hasProductAccess;
    // @ts-expect-error userInfo is read-only
    plain.userInfo.userId = 'x';
    void [id, email, product, strict];
  } else {
    assertType<Equal<typeof plain, NotVerified>>(true);
    const reason: NotVerifiedReason = plain.reason;
    const nothing: null = plain.userInfo;
    // @ts-expect-error no sessionId when not verified
    void plain.sessionId;
    void [reason, nothing];
  }

  const withProduct = await client.verifyUser(token, { productId: 'reports' });
  assertType<Equal<typeof withProduct, VerifiedUserWithProduct | NotVerified>>(true);
  if (withProduct.isAuthenticated) {
    const has: boolean = withProduct.hasProductAccess; // always set when productId was given
    void has;
  }

  // @ts-expect-error the token is a string
  await client.verifyUser(42);
  // @ts-expect-error productId is a string
  await client.verifyUser(token, { productId: 7 });
  await client.verifyUser(token, { signal: AbortSignal.timeout(1000) });
}

function erring(err: unknown): void {
  if (err instanceof VerigateApiError) {
    const status: number = err.httpStatus;
    const requestId: string | null = err.requestId;
    const code: VerigateErrorCode = err.code;
    // @ts-expect-error no `status`: a framework error handler must not pass the gateway's 401 on
    void err.status;
    void [status, requestId, code];
  }
  if (err instanceof VerigateError) {
    const code: VerigateErrorCode = err.code;
    const transient: boolean = err.transient;
    // @ts-expect-error not a code
    const bad: VerigateErrorCode = 'oops';
    void [code, transient, bad];
  }
  const server: ApiErrorCode = 'api_key_wrong_environment';
  // @ts-expect-error client-side codes are not server codes
  const local: ApiErrorCode = 'network_error';
  void [server, local];
}

const app = express();
app.get('/reports', requireVerifiedUser(client, { productId: 'reports' }), (req, res) => {
  const user: VerifiedUser | undefined = req.verigateUser;
  res.json({ userId: user?.userInfo.userId });
});
app.use(requireVerifiedUser(client));
// @ts-expect-error the client comes first
requireVerifiedUser({ productId: 'reports' });
// @ts-expect-error productId is a string
requireVerifiedUser(client, { productId: 1 });

// A local verifier can slot in later behind the same surface; today only 'online'.
createVerigateClient({ apiKey: 'k', verification: 'online' });
// @ts-expect-error not (yet) a verification mode
createVerigateClient({ apiKey: 'k', verification: 'offline' });

async function fetchApi(request: Request): Promise<Response> {
  const auth = await authenticateRequest(client, request, { productId: 'reports' });
  if (!auth.ok) return auth.response;
  const user: VerifiedUser = auth.user;
  // @ts-expect-error no response when verified
  void auth.response;
  return Response.json({ userId: user.userInfo.userId });
}

const fastify = Fastify();
void fastify.register(async (scope) => {
  await scope.register(verigateFastify, { client, productId: 'reports' });
  scope.get('/reports', async (request) => ({ userId: request.verigateUser?.userInfo.userId ?? null }));
});
// @ts-expect-error the plugin needs a client
void fastify.register(verigateFastify, { productId: 'reports' });

void verifying;
void erring;
void fetchApi;
