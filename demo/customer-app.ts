/**
 * The customer's side of the demo: a page that uses the browser SDK (loaded
 * by a script tag from the gateway) and a backend that uses @verigate/node
 * (through its workspace link, as built, when run by `npm run demo`).
 * The backend holds the two secrets; the page only ever sees the publishable key.
 */
import { createSecretKey, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import express, { type Express } from 'express';
import { SignJWT } from 'jose';
import { createVerigateClient, requireVerifiedUser } from '@verigate/node';

/** The visitor the demo signs in: in a real shop, whoever logged in to your own site. */
export const DEMO_USER = { userId: 'ada', email: 'ada@example.com', name: 'Ada Lovelace' } as const;

export interface CustomerAppOptions {
  /** The sandbox gateway's base URL: the page loads the SDK from there. */
  gatewayUrl: string;
  publishableKey: string;
  /** Signs identity tokens. Server-side only. */
  identitySecret: string;
  /** Authenticates the exchange. Server-side only. */
  apiKey: string;
}

const escapeAttribute = (value: string): string => value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

export function createCustomerApp(options: CustomerAppOptions): Express {
  const verigate = createVerigateClient({ apiKey: options.apiKey, sandbox: true, baseUrl: options.gatewayUrl });
  const identityKey = createSecretKey(Buffer.from(options.identitySecret, 'utf8'));
  const page = readFileSync(resolve(__dirname, 'public/index.html'), 'utf8')
    .replace('{{SDK_URL}}', escapeAttribute(`${options.gatewayUrl}/sdk/v1/verigate.js`))
    .replace('{{PUBLISHABLE_KEY}}', escapeAttribute(options.publishableKey));
  const script = readFileSync(resolve(__dirname, 'public/app.js'), 'utf8');

  const app = express();
  app.disable('x-powered-by');
  app.get('/', (_req, res) => {
    res.type('html').setHeader('Cache-Control', 'no-store').send(page);
  });
  app.get('/app.js', (_req, res) => {
    res.type('js').setHeader('Cache-Control', 'no-store').send(script);
  });

  // Your own sign-in would guard this: here, anyone who asks is Ada. The
  // identity token tells verigate who the visitor is, signed with the site's
  // identity secret (HS256; claims sub, email, name, exp).
  app.get('/demo/identity-token', async (_req, res) => {
    const identityToken = await new SignJWT({ email: DEMO_USER.email, name: DEMO_USER.name })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(DEMO_USER.userId)
      .setJti(randomUUID()) // a token signs in once (SPEC §7): each one its own
      .setIssuedAt()
      .setExpirationTime('10m')
      .sign(identityKey);
    res.setHeader('Cache-Control', 'no-store');
    res.json({ identityToken });
  });

  // Protected routes: the Node SDK exchanges the page's verification token.
  app.get('/api/reports', requireVerifiedUser(verigate, { productId: 'reports' }), (req, res) => {
    const verified = req.verigateUser!;
    res.setHeader('Cache-Control', 'no-store');
    res.json({ report: 'Q3 revenue: 42 (sandbox data)', verifiedUser: verified.userInfo, sessionId: verified.sessionId });
  });
  app.get('/api/analytics', requireVerifiedUser(verigate, { productId: 'analytics' }), (_req, res) => {
    res.json({ analytics: 'never reached by Ada' });
  });
  return app;
}
