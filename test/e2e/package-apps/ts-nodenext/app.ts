// TypeScript, moduleResolution nodenext, ESM: compiled by tsc, then run.
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import express from 'express';
import {
  createVerigateClient,
  requireVerifiedUser,
  VerigateApiError,
  type NotVerifiedReason,
  type VerifiedUser,
  type VerifiedUserWithProduct,
} from '@verigate/node';

const token = process.env.TOKEN ?? '';
const verigate = createVerigateClient({ apiKey: process.env.VERIGATE_API_KEY ?? '', baseUrl: process.env.VERIGATE_BASE_URL });
const result = await verigate.verifyUser(token, { productId: 'reports' });
let verified: { userId: string; hasProductAccess: boolean } | { reason: NotVerifiedReason };
if (result.isAuthenticated) {
  const user: VerifiedUserWithProduct = result; // hasProductAccess is a boolean when a productId was named
  verified = { userId: user.userInfo.userId, hasProductAccess: user.hasProductAccess };
} else {
  verified = { reason: result.reason };
}

const app = express();
app.get('/api/reports', requireVerifiedUser(verigate, { productId: 'reports' }), (req, res) => {
  const user: VerifiedUser | undefined = req.verigateUser; // the package's Express augmentation
  res.json({ userId: user?.userInfo.userId });
});
const server = app.listen(0, '127.0.0.1');
await once(server, 'listening');
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/reports`;
const guarded = await fetch(url, { headers: { Authorization: `Bearer ${token}` } });
const anonymous = await fetch(url);
server.close();

const wrongKey = await createVerigateClient({ apiKey: process.env.OTHER_ENVIRONMENT_KEY ?? '', baseUrl: process.env.VERIGATE_BASE_URL })
  .verifyUser(token)
  .then(
    () => null,
    (err: unknown) => (err instanceof VerigateApiError ? { code: err.code, httpStatus: err.httpStatus } : String(err)),
  );

process.stdout.write(
  `${JSON.stringify({
    verified,
    guarded: { status: guarded.status, body: await guarded.json() },
    anonymous: { status: anonymous.status, body: await anonymous.json() },
    wrongKey,
  })}\n`,
);
