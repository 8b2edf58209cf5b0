import type { Express, NextFunction, Request, RequestHandler, Response } from 'express';
import { VerigateError } from '../domain/errors';
import type { AdminDeps, EnvironmentDeps } from './deps';
import { requestState } from './pipeline';
import { exchangeHandler } from './handlers/exchange';
import { endSessionHandler, getSessionHandler, issueVerificationTokenHandler } from './handlers/browser-session';
import { healthzHandler, jwksHandler, openapiHandler, readyzHandler, sdkHandler } from './handlers/operations';
import { siteHandlers } from './handlers/admin/sites';
import { apiKeyHandlers } from './handlers/admin/api-keys';
import { userHandlers } from './handlers/admin/users';
import { signingKeyHandlers } from './handlers/admin/signing-keys';
import { signInHandler } from './handlers/sign-in';
import { browserCors, preflight } from './middleware/cors';

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS';

export interface Route {
  readonly method: Method;
  readonly path: string;
  readonly handler: RequestHandler;
  /** Admin routes that answer without the admin token (health, the spec). */
  readonly public?: boolean;
  /** Browser endpoints: CORS per the site's allowedOrigins, and a preflight. */
  readonly browser?: boolean;
}

export const EXCHANGE_PATH = '/live_api/s2s/v1/users/verification';

/**
 * Every route of an environment listener (live or sandbox: the same paths).
 * The exchange is also served by the fast lane (fast-lane.ts), with this
 * very handler; Express serves it when the fast lane hands a request on
 * (a query string) and answers 405 for its other methods.
 */
export function environmentRoutes(deps: EnvironmentDeps): Route[] {
  return [
    { method: 'POST', path: EXCHANGE_PATH, handler: exchangeHandler(deps) },
    { method: 'POST', path: '/live_api/v1/sessions', handler: signInHandler(deps, deps.rateLimits), browser: true },
    {
      method: 'POST',
      path: '/live_api/v1/users/verification-token',
      handler: issueVerificationTokenHandler(deps),
      browser: true,
    },
    { method: 'GET', path: '/live_api/v1/session', handler: getSessionHandler(deps), browser: true },
    { method: 'DELETE', path: '/live_api/v1/session', handler: endSessionHandler(deps), browser: true },
    { method: 'GET', path: '/.well-known/jwks.json', handler: jwksHandler(deps.domain) },
    { method: 'GET', path: '/healthz', handler: healthzHandler() },
    { method: 'GET', path: '/readyz', handler: readyzHandler([deps.health], deps.draining) },
    { method: 'GET', path: '/openapi.yaml', handler: openapiHandler(deps.openapiYaml) },
    { method: 'GET', path: '/sdk/v1/verigate.js', handler: sdkHandler(deps.sdkScript) },
  ];
}

/** Every route of the admin listener. */
export function adminRoutes(deps: AdminDeps): Route[] {
  const sites = siteHandlers(deps);
  const apiKeys = apiKeyHandlers(deps);
  const users = userHandlers(deps);
  const ops = signingKeyHandlers(deps);
  const env = '/admin/v1/:environment';
  const site = `${env}/sites/:siteId`;
  const user = `${site}/users/:userId`;
  return [
    { method: 'GET', path: '/healthz', handler: healthzHandler(), public: true },
    {
      method: 'GET',
      path: '/readyz',
      handler: readyzHandler(deps.health, deps.draining),
      public: true,
    },
    { method: 'GET', path: '/openapi.yaml', handler: openapiHandler(deps.openapiYaml), public: true },
    { method: 'GET', path: '/metrics', handler: ops.metrics },
    { method: 'POST', path: `${env}/sites`, handler: sites.createSite },
    { method: 'GET', path: `${env}/sites`, handler: sites.listSites },
    { method: 'GET', path: site, handler: sites.getSite },
    { method: 'PATCH', path: site, handler: sites.updateSite },
    { method: 'GET', path: `${site}/security`, handler: sites.revealIdentitySecret },
    { method: 'POST', path: `${site}/security/rotate-identity-secret`, handler: sites.rotateIdentitySecret },
    { method: 'POST', path: `${site}/api-keys`, handler: apiKeys.createApiKey },
    { method: 'GET', path: `${site}/api-keys`, handler: apiKeys.listApiKeys },
    { method: 'DELETE', path: `${site}/api-keys/:keyId`, handler: apiKeys.revokeApiKey },
    { method: 'POST', path: `${site}/api-keys/:keyId/roll`, handler: apiKeys.rollApiKey },
    { method: 'PUT', path: user, handler: users.putUser },
    { method: 'GET', path: user, handler: users.getUser },
    { method: 'DELETE', path: user, handler: users.deleteUser },
    { method: 'POST', path: `${user}/sessions`, handler: users.createSession },
    { method: 'GET', path: `${user}/sessions`, handler: users.listSessions },
    { method: 'DELETE', path: `${user}/sessions`, handler: users.endAllSessions },
    { method: 'POST', path: `${env}/signing-keys/rotate`, handler: ops.rotateSigningKey },
  ];
}

/**
 * Mounts a route table: the guard (if any) for every non-public route, each
 * route, then a 405 (with `Allow`) for other methods on a known path, then a
 * 404 for everything else.
 */
export function mountRoutes(app: Express, routes: readonly Route[], guard?: RequestHandler): void {
  const methodsByPath = new Map<string, Method[]>();
  if (guard) {
    // The guard runs before routing, so without the token even a 404 or 405 says nothing about what exists.
    const open = new Set(routes.filter((r) => r.public).map((r) => `${r.method} ${r.path}`));
    app.use((req: Request, res: Response, next: NextFunction) => {
      const method = req.method === 'HEAD' ? 'GET' : req.method;
      if (open.has(`${method} ${req.path}`)) {
        next();
        return;
      }
      guard(req, res, next);
    });
  }
  for (const route of routes) {
    const methods = methodsByPath.get(route.path) ?? [];
    methods.push(route.method);
    methodsByPath.set(route.path, methods);
    const tag = (_req: Request, res: Response, next: NextFunction): void => {
      requestState(res).route = route.path;
      next();
    };
    const chain: RequestHandler[] = [tag];
    if (route.browser) chain.push(browserCors());
    chain.push(route.handler);
    app[route.method.toLowerCase() as Lowercase<Method>](route.path, ...chain);
  }
  for (const path of new Set(routes.filter((r) => r.browser).map((r) => r.path))) {
    const methods = methodsByPath.get(path) ?? [];
    const answer = preflight(methods.join(', '));
    app.options(path, (req: Request, res: Response) => {
      requestState(res).route = path;
      answer(req, res);
    });
    methods.push('OPTIONS');
  }
  for (const [path, methods] of methodsByPath) {
    const allow = [...new Set([...methods, ...(methods.includes('GET') ? ['HEAD'] : [])])].join(', ');
    app.all(path, (req: Request, res: Response) => {
      requestState(res).route = path;
      throw new VerigateError('method_not_allowed', `${req.method} is not allowed here; use ${allow}`, undefined, {
        Allow: allow,
      });
    });
  }
  app.use((_req: Request) => {
    throw new VerigateError('not_found', 'No such endpoint');
  });
}
