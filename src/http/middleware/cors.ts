import type { NextFunction, Request, Response } from 'express';
import { VerigateError } from '../../domain/errors';
import type { SiteRecord } from '../../domain/sites';

const ALLOWED_HEADERS = 'Authorization, Content-Type, X-Request-Id';
const PREFLIGHT_MAX_AGE = '600';

/**
 * CORS for the browser endpoints. Which origins may call depends on the
 * site, and a preflight carries neither the publishable key nor the session
 * token that name it: so the preflight admits any origin, and the real
 * request is checked against the site's `allowedOrigins` as soon as the
 * site is known (`checkOrigin`), before anything happens. A refused origin
 * gets 403 `origin_not_allowed` and no `Access-Control-Allow-Origin`, so the
 * page cannot read even that.
 *
 * Credentials (cookies) are never involved: the session token travels as a
 * bearer header, so `Access-Control-Allow-Credentials` is not sent.
 */
export function browserCors() {
  return function browserCors(req: Request, res: Response, next: NextFunction): void {
    const origin = req.headers.origin;
    res.setHeader('Vary', 'Origin');
    if (origin !== undefined) {
      res.locals.corsOrigin = origin;
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Expose-Headers', 'X-Request-Id, Retry-After, RateLimit, RateLimit-Policy');
    }
    next();
  };
}

/** The preflight answer (OPTIONS). A request without `Origin` is not a preflight. */
export function preflight(methods: string) {
  const allowMethods = `${methods}, OPTIONS`;
  return function preflight(req: Request, res: Response): void {
    const origin = req.headers.origin;
    if (origin === undefined) throw new VerigateError('origin_not_allowed', 'A CORS preflight needs an Origin header');
    res.setHeader('Vary', 'Origin');
    res.setHeader('Access-Control-Allow-Origin', origin);
    res.setHeader('Access-Control-Allow-Methods', allowMethods);
    res.setHeader('Access-Control-Allow-Headers', ALLOWED_HEADERS);
    res.setHeader('Access-Control-Max-Age', PREFLIGHT_MAX_AGE);
    res.status(204).end();
  };
}

export function isOriginAllowed(site: SiteRecord, origin: string): boolean {
  return site.allowedOrigins.includes(origin) || site.allowedOrigins.includes('*');
}

/**
 * Refuses the request if it comes from a browser origin the site does not
 * allow. Requests without `Origin` (servers, curl) are not CORS and pass.
 */
export function checkOrigin(res: Response, site: SiteRecord): void {
  const origin = res.locals.corsOrigin as string | undefined;
  if (origin === undefined || isOriginAllowed(site, origin)) return;
  res.removeHeader('Access-Control-Allow-Origin');
  res.removeHeader('Access-Control-Expose-Headers');
  throw new VerigateError('origin_not_allowed', `The origin ${origin} is not in this site's allowedOrigins`);
}
