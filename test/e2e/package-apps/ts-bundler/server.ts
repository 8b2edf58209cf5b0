// TypeScript, moduleResolution bundler: checked by tsc, bundled for Node by esbuild, then run.
import { authenticateRequest, createVerigateClient, type AuthenticatedRequest } from '@verigate/node';

const token = process.env.TOKEN ?? '';
const verigate = createVerigateClient({ apiKey: process.env.VERIGATE_API_KEY ?? '', baseUrl: process.env.VERIGATE_BASE_URL });

/** A fetch-API route handler, as in Next.js: Request in, Response out. */
async function GET(request: Request): Promise<Response> {
  const auth: AuthenticatedRequest = await authenticateRequest(verigate, request, { productId: 'reports' });
  if (!auth.ok) return auth.response;
  return Response.json({ userId: auth.user.userInfo.userId, hasProductAccess: auth.user.hasProductAccess });
}

const guarded = await GET(new Request('https://shop.example/api/reports', { headers: { Authorization: `Bearer ${token}` } }));
const anonymous = await GET(new Request('https://shop.example/api/reports'));
const result = await verigate.verifyUser(token);

process.stdout.write(
  `${JSON.stringify({
    verified: result.isAuthenticated ? { userId: result.userInfo.userId, hasProductAccess: result.hasProductAccess ?? null } : { reason: result.reason },
    guarded: { status: guarded.status, body: await guarded.json() },
    anonymous: { status: anonymous.status, body: await anonymous.json() },
  })}\n`,
);
