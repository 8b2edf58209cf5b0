'use strict';
// CommonJS: require() resolves the packages' `require` builds.
const { once } = require('node:events');
const express = require('express');
const { createVerigateClient, requireVerifiedUser, VerigateError } = require('@verigate/node');
const browser = require('@verigate/browser');

async function main() {
  const token = process.env.TOKEN;
  const verigate = createVerigateClient({ apiKey: process.env.VERIGATE_API_KEY, baseUrl: process.env.VERIGATE_BASE_URL });
  const verified = await verigate.verifyUser(token, { productId: 'reports' });

  const app = express();
  app.get('/api/reports', requireVerifiedUser(verigate, { productId: 'reports' }), (req, res) => {
    res.json({ userId: req.verigateUser.userInfo.userId });
  });
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${server.address().port}/api/reports`;
  const guarded = await fetch(url, { headers: { Authorization: `Bearer ${token}` } });
  const anonymous = await fetch(url);
  server.close();

  let localRefusal = null;
  try {
    createVerigateClient({ apiKey: 'vg_live_sk_not-a-key' });
  } catch (err) {
    localRefusal = { isVerigateError: err instanceof VerigateError, code: err.code };
  }
  process.stdout.write(
    `${JSON.stringify({
      verified: { isAuthenticated: verified.isAuthenticated, userId: verified.userInfo?.userId, hasProductAccess: verified.hasProductAccess },
      guarded: { status: guarded.status, body: await guarded.json() },
      anonymous: { status: anonymous.status, body: await anonymous.json() },
      localRefusal,
      browserExports: Object.keys(browser).sort(),
    })}\n`,
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
