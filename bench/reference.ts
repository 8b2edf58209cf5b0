import { createPublicKey, type JsonWebKey } from 'node:crypto';
import express, { type Request, type Response } from 'express';
import Redis from 'ioredis';
import { jwtVerify } from 'jose';

/**
 * The minimal honest exchange the benchmark compares verigate with: Express 5
 * and `express.json()`, the API key looked up in a `Map`, the token checked
 * with jose's `jwtVerify` (ES256, the algorithm of verigate's tokens, with the
 * same pinned `typ`, `iss`, `aud`, required claims, max age and tolerance),
 * and the user read with one Redis `HGETALL`. No cache, no metrics, no logs:
 * the least an exchange can do and still be an exchange.
 *
 * Environment: PORT, REDIS_URL, REF_PUBLIC_JWK (the verification key, JWK),
 * REF_API_KEYS (JSON object apiKey -> siteId), REF_ISSUER.
 */
const publicKey = createPublicKey({ key: JSON.parse(String(process.env.REF_PUBLIC_JWK)) as JsonWebKey, format: 'jwk' });
const apiKeys = new Map(Object.entries(JSON.parse(String(process.env.REF_API_KEYS)) as Record<string, string>));
const issuer = String(process.env.REF_ISSUER);
const redis = new Redis(String(process.env.REDIS_URL), { enableAutoPipelining: false });

const app = express();
app.disable('x-powered-by');
app.set('etag', false);
app.use(express.json({ limit: '16kb' }));

app.post('/live_api/s2s/v1/users/verification', async (req: Request, res: Response) => {
  const siteId = apiKeys.get(String(req.headers['x-api-key']));
  if (siteId === undefined) {
    res.status(401).json({ code: 'invalid_api_key' });
    return;
  }
  const token = (req.body as { userVerificationToken?: unknown } | undefined)?.userVerificationToken;
  if (typeof token !== 'string') {
    res.status(400).json({ code: 'invalid_request' });
    return;
  }
  let sub: string;
  try {
    const { payload } = await jwtVerify(token, publicKey, {
      algorithms: ['ES256'],
      typ: 'vg-verification+jwt',
      issuer,
      audience: siteId,
      requiredClaims: ['iss', 'aud', 'sub', 'sid', 'env', 'jti', 'iat', 'exp'],
      maxTokenAge: 300,
      clockTolerance: 5,
    });
    sub = String(payload.sub);
  } catch {
    res.set('Cache-Control', 'no-store').json({ isAuthenticated: false, userInfo: null, reason: 'token_invalid' });
    return;
  }
  const user = await redis.hgetall(`ref:user:${sub}`);
  res.set('Cache-Control', 'no-store');
  if (!user.userId) {
    res.json({ isAuthenticated: false, userInfo: null, reason: 'user_not_found' });
    return;
  }
  res.json({ isAuthenticated: true, environment: 'live', userInfo: user });
});

const server = app.listen(Number(process.env.PORT), '127.0.0.1');
server.keepAliveTimeout = 65_000;
process.once('SIGTERM', () => server.close(() => void redis.quit().finally(() => process.exit(0))));
