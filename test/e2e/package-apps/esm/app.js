// "type": "module": import resolves the packages' `import` builds.
import Fastify from 'fastify';
import { authenticateRequest, createVerigateClient } from '@verigate/node';
import { verigateFastify } from '@verigate/node/fastify';
import { createVerigate } from '@verigate/browser';

const token = process.env.TOKEN;
const verigate = createVerigateClient({ apiKey: process.env.VERIGATE_API_KEY, baseUrl: process.env.VERIGATE_BASE_URL });
const verified = await verigate.verifyUser(token, { productId: 'reports' });

const app = Fastify();
app.get('/healthz', async () => ({ ok: true }));
app.register(async (reports) => {
  await reports.register(verigateFastify, { client: verigate, productId: 'reports' });
  reports.get('/api/reports', async (request) => ({ userId: request.verigateUser.userInfo.userId }));
});
await app.listen({ port: 0, host: '127.0.0.1' });
const base = `http://127.0.0.1:${app.server.address().port}`;
const guarded = await fetch(`${base}/api/reports`, { headers: { Authorization: `Bearer ${token}` } });
const anonymous = await fetch(`${base}/api/reports`);
const unguarded = await fetch(`${base}/healthz`);

// The fetch-API helper, on a Request as a Next.js route handler or Hono receives it.
const fetched = await authenticateRequest(verigate, new Request('https://shop.example/api/reports', { headers: { Authorization: `Bearer ${token}` } }), {
  productId: 'reports',
});
const refused = await authenticateRequest(verigate, new Request('https://shop.example/api/reports'));
await app.close();

process.stdout.write(
  `${JSON.stringify({
    verified: { isAuthenticated: verified.isAuthenticated, userId: verified.userInfo?.userId, hasProductAccess: verified.hasProductAccess },
    guarded: { status: guarded.status, body: await guarded.json() },
    anonymous: { status: anonymous.status, body: await anonymous.json() },
    unguarded: unguarded.status,
    fetchHelper: { ok: fetched.ok, userId: fetched.ok ? fetched.user.userInfo.userId : null },
    fetchHelperAnonymous: refused.ok ? null : { status: refused.response.status, body: await refused.response.json() },
    browserModule: typeof createVerigate,
  })}\n`,
);
