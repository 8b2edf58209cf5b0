import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { parseCookie, stringifySetCookie } from 'cookie';
import type { Request, Response } from 'express';
import { CONSOLE_MAX_MS, type AdminAccess, type ConsoleSessionView } from '../domain/admin-access';
import { VerigateError } from '../domain/errors';

/** The console's session cookie. Its value is `<environment>.<secret>`; only a keyed hash of the secret is stored. */
export const CONSOLE_COOKIE = 'vg_console';
/** The synchronizer token header every cookie-authorized mutation carries. */
export const CSRF_HEADER = 'x-csrf-token';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function isMutation(method: string | undefined): boolean {
  return !SAFE_METHODS.has(method ?? 'GET');
}

export function consoleCookie(req: IncomingMessage): string | undefined {
  const header = req.headers.cookie;
  return header ? parseCookie(header)[CONSOLE_COOKIE] : undefined;
}

/**
 * `HttpOnly` (no script reads it), `SameSite=Strict` (no other site's page
 * sends it), `Path=/` (the console's page and the admin API it calls),
 * `Secure` when the admin listener is reached over TLS; it lives at most
 * as long as the session may (12 h).
 */
export function setConsoleCookie(req: Request, res: Response, value: string): void {
  res.append(
    'Set-Cookie',
    stringifySetCookie(CONSOLE_COOKIE, value, {
      httpOnly: true,
      sameSite: 'strict',
      path: '/',
      secure: req.secure,
      maxAge: CONSOLE_MAX_MS / 1000,
    }),
  );
}

export function clearConsoleCookie(req: Request, res: Response): void {
  res.append('Set-Cookie', stringifySetCookie(CONSOLE_COOKIE, '', { httpOnly: true, sameSite: 'strict', path: '/', secure: req.secure, maxAge: 0 }));
}

/**
 * Refuses a request another site's page made: its `Origin` must be this
 * listener's own (scheme and Host of the request), and without an `Origin`
 * the browser's `Sec-Fetch-Site` must not say cross-site. (A client that is
 * not a browser sends neither, and has no cookie to abuse.)
 */
export function checkSameOrigin(req: Request): void {
  const origin = req.headers.origin;
  if (origin !== undefined) {
    const own = `${req.protocol}://${req.headers.host ?? ''}`;
    if (origin !== own) throw new VerigateError('forbidden', `Cross-site request refused: Origin ${origin} is not ${own}`);
    return;
  }
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    throw new VerigateError('forbidden', `Cross-site request refused (Sec-Fetch-Site: ${String(site)})`);
  }
}

/** A mutation under a console session: same origin, and the session's CSRF token in `X-CSRF-Token`. */
export function checkCsrf(req: Request, session: ConsoleSessionView): void {
  checkSameOrigin(req);
  const presented = req.headers[CSRF_HEADER];
  const expected = Buffer.from(session.csrfToken);
  const given = Buffer.from(typeof presented === 'string' ? presented : '');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new VerigateError('forbidden', 'Missing or wrong X-CSRF-Token: console changes must come from the console page');
  }
}

/** The console session of a request, or null (no cookie, or it names no live session). */
export function resumeSession(access: AdminAccess, req: IncomingMessage): Promise<ConsoleSessionView | null> {
  return access.resumeConsoleSession(consoleCookie(req));
}
