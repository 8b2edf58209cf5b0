import type { Request, Response } from 'express';
import helmet from 'helmet';

/**
 * helmet's default security headers, worked out once at start-up: the same
 * headers as `app.use(helmet())`, without running helmet's dozen
 * middlewares on every request (the pipeline sends them). helmet stays the
 * source of truth (an upgrade that changes a default changes ours), and a
 * default that would need the request (a CSP nonce) is refused at start-up.
 * What `helmet()` does to a response is recorded against a stand-in request
 * and response.
 */
export function helmetDefaultHeaders(): readonly (readonly [string, string])[] {
  const set = new Map<string, string>();
  const recorder = {
    setHeader(name: string, value: unknown): void {
      set.set(name, String(value));
    },
    removeHeader(name: string): void {
      // X-Powered-By: Express's is already disabled (app.disable('x-powered-by')).
      set.delete(name);
    },
  };
  const request = new Proxy(
    {},
    {
      get(_target, property) {
        throw new Error(`helmet() read req.${String(property)}: its headers depend on the request and cannot be precomputed`);
      },
    },
  );
  let done = false;
  helmet()(request as Request, recorder as unknown as Response, (err?: unknown) => {
    if (err) throw err;
    done = true;
  });
  if (!done) throw new Error('helmet() did not finish synchronously; its headers cannot be precomputed');
  return [...set];
}
