import type { Request, Response } from 'express';
import { z } from 'zod';
import { VerigateError } from '../../domain/errors';
import type { AdminAccess, ConsoleSessionView } from '../../domain/admin-access';
import { readJsonBody, validate } from '../body';
import type { ConsoleAssets } from '../console-assets';
import {
  checkCsrf,
  checkSameOrigin,
  clearConsoleCookie,
  consoleCookie,
  resumeSession,
  setConsoleCookie,
} from '../console-session';
import { authenticateAdminToken } from '../middleware/admin-auth';
import type { RateLimit } from '../rate-limits';

/**
 * The console page's policy: its own script and styles only (no inline
 * script or style, nothing from elsewhere), calls to its own origin only,
 * never framed. The built index.html holds nothing inline (test/unit/console-build.test.ts).
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "font-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "object-src 'none'",
].join('; ');

const SignIn = z.strictObject({ token: z.string().min(1).max(512) });

const NOT_BUILT = 'The console has not been built: run npm run build';

const signedIn = (view: ConsoleSessionView) => ({ signedIn: true as const, ...view });

export function consoleHandlers(access: AdminAccess, assets: ConsoleAssets | null, failures?: RateLimit) {
  return {
    index(_req: Request, res: Response): void {
      if (!assets) throw new VerigateError('not_found', NOT_BUILT);
      res.setHeader('Content-Type', 'text/html; charset=utf-8');
      res.setHeader('Content-Security-Policy', CONSOLE_CSP);
      res.setHeader('Cache-Control', 'no-cache');
      res.end(assets.index);
    },
    asset(req: Request, res: Response): void {
      const file = assets?.files.get(String(req.params.file));
      if (!file) throw new VerigateError('not_found', assets ? 'No such console file' : NOT_BUILT);
      res.setHeader('Content-Type', file.contentType);
      // The names carry a hash of the content: a new build has new names.
      res.setHeader('Cache-Control', 'public, max-age=31536000, immutable');
      res.end(file.body);
    },
    /** The page's session, if any: who is signed in and the CSRF token; never a 401, so a signed-out page logs no error. */
    async getSession(req: Request, res: Response): Promise<void> {
      const session = await resumeSession(access, req);
      if (!session && consoleCookie(req) !== undefined) clearConsoleCookie(req, res);
      res.setHeader('Cache-Control', 'no-store');
      res.json(session ? signedIn(session) : { signedIn: false });
    },
    /** Sign-in: the admin token (root or scoped) for a cookie session. The token itself is not kept. */
    async signIn(req: Request, res: Response): Promise<void> {
      checkSameOrigin(req);
      const { token } = validate(SignIn, await readJsonBody(req));
      const principal = await authenticateAdminToken(access, failures, res, token.trim());
      const { cookie, view } = await access.openConsoleSession(principal);
      setConsoleCookie(req, res, cookie);
      res.status(201).setHeader('Cache-Control', 'no-store');
      res.json(signedIn(view));
    },
    async signOut(req: Request, res: Response): Promise<void> {
      const session = await resumeSession(access, req);
      if (session) {
        checkCsrf(req, session);
        await access.endConsoleSession(consoleCookie(req));
      }
      clearConsoleCookie(req, res);
      res.status(204).end();
    },
  };
}
