import type { Express, NextFunction, Request, RequestHandler, Response } from 'express';
import { authorize, type AdminScope } from '../domain/admin-access';
import { isEnvironment } from '../domain/environments';
import { VerigateError } from '../domain/errors';
import type { AdminDeps, EnvironmentDeps } from './deps';
import { auditStep, type AuditAction, type AuditLog } from './audit';
import { requestState } from './pipeline';
import { exchangeHandler } from './handlers/exchange';
import { endSessionHandler, getSessionHandler, issueVerificationTokenHandler } from './handlers/browser-session';
import { healthzHandler, jwksHandler, openapiHandler, readyzHandler, sdkHandler } from './handlers/operations';
import { siteHandlers } from './handlers/admin/sites';
import { apiKeyHandlers } from './handlers/admin/api-keys';
import { userHandlers } from './handlers/admin/users';
import { signingKeyHandlers } from './handlers/admin/signing-keys';
import { adminTokenHandlers } from './handlers/admin/admin-tokens';
import { auditHandlers } from './handlers/admin/audit';
import { webhookHandlers } from './handlers/admin/webhooks';
import { consoleHandlers } from './handlers/console';
import { adminPrincipal } from './middleware/admin-auth';
import { signInHandler } from './handlers/sign-in';
import { eventFeedHandler, eventStreamHandler } from './handlers/events';
import { browserCors, preflight } from './middleware/cors';

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS';

export interface Route {
  readonly method: Method;
  readonly path: string;
  readonly handler: RequestHandler;
  /** Admin routes that answer without the admin token (health, the spec, the console's page and sign-in). */
  readonly public?: boolean;
  /**
   * Every other admin route: what it needs of the caller's token, checked
   * (authorize()) before the handler runs, against the environment and the
   * site its path names. A site-limited token is refused a site outside its
   * list before anything is looked up, so guessing ids tells it nothing.
   */
  readonly access?: Omit<AdminScope, 'environment' | 'siteId'>;
  /** Browser endpoints: CORS per the site's allowedOrigins, and a preflight. */
  readonly browser?: boolean;
  /**
   * Admin mutations and secret reveals: the audit action a success logs
   * (SPEC §8; the event types of §11), written once for every such route
   * by the audit step (audit.ts), never by the handler.
   */
  readonly audit?: AuditAction;
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
    { method: 'GET', path: '/live_api/s2s/v1/events', handler: eventFeedHandler(deps) },
    { method: 'GET', path: '/live_api/s2s/v1/events/stream', handler: eventStreamHandler(deps) },
    { method: 'GET', path: '/.well-known/jwks.json', handler: jwksHandler(deps.domain) },
    { method: 'GET', path: '/healthz', handler: healthzHandler() },
    { method: 'GET', path: '/readyz', handler: readyzHandler([deps.health], deps.draining) },
    { method: 'GET', path: '/openapi.yaml', handler: openapiHandler(deps.openapiYaml) },
    { method: 'GET', path: '/sdk/v1/verigate.js', handler: sdkHandler(deps.sdkScript) },
  ];
}

const READ = { write: false } as const;
const PRODUCT_ACCESS = 'user.product_access.changed';
const WRITE = { write: true } as const;
const ROOT = { write: true, rootOnly: true } as const;

/** Every route of the admin listener. */
export function adminRoutes(deps: AdminDeps): Route[] {
  const sites = siteHandlers(deps);
  const apiKeys = apiKeyHandlers(deps);
  const users = userHandlers(deps);
  const ops = signingKeyHandlers(deps);
  const tokens = adminTokenHandlers(deps);
  const audit = auditHandlers(deps);
  const webhooks = webhookHandlers(deps);
  const consolePage = consoleHandlers(deps.access, deps.consoleAssets, deps.adminFailures);
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
    { method: 'GET', path: '/console/', handler: consolePage.index, public: true },
    { method: 'GET', path: '/console/assets/:file', handler: consolePage.asset, public: true },
    { method: 'GET', path: '/console/api/session', handler: consolePage.getSession, public: true },
    { method: 'POST', path: '/console/api/session', handler: consolePage.signIn, public: true },
    { method: 'DELETE', path: '/console/api/session', handler: consolePage.signOut, public: true },
    { method: 'GET', path: '/metrics', handler: ops.metrics, access: { write: false, wholeEnvironment: true } },
    { method: 'GET', path: '/admin/v1/environments', handler: tokens.listEnvironments, access: READ },
    { method: 'POST', path: '/admin/v1/admin-tokens', handler: tokens.createAdminToken, access: ROOT, audit: 'admin_token.created' },
    { method: 'GET', path: '/admin/v1/admin-tokens', handler: tokens.listAdminTokens, access: ROOT },
    { method: 'DELETE', path: '/admin/v1/admin-tokens/:tokenId', handler: tokens.revokeAdminToken, access: ROOT, audit: 'admin_token.revoked' },
    { method: 'POST', path: `${env}/sites`, handler: sites.createSite, access: { write: true, wholeEnvironment: true }, audit: 'site.created' },
    { method: 'GET', path: `${env}/sites`, handler: sites.listSites, access: READ },
    { method: 'GET', path: site, handler: sites.getSite, access: READ },
    { method: 'PATCH', path: site, handler: sites.updateSite, access: WRITE, audit: 'site.updated' },
    { method: 'DELETE', path: site, handler: sites.deleteSite, access: WRITE, audit: 'site.deleted' },
    { method: 'GET', path: `${site}/security`, handler: sites.revealIdentitySecret, access: READ, audit: 'identity_secret.revealed' },
    {
      method: 'POST',
      path: `${site}/security/rotate-identity-secret`,
      handler: sites.rotateIdentitySecret,
      access: WRITE,
      audit: 'identity_secret.rotated',
    },
    { method: 'POST', path: `${site}/api-keys`, handler: apiKeys.createApiKey, access: WRITE, audit: 'api_key.created' },
    { method: 'GET', path: `${site}/api-keys`, handler: apiKeys.listApiKeys, access: READ },
    { method: 'DELETE', path: `${site}/api-keys/:keyId`, handler: apiKeys.revokeApiKey, access: WRITE, audit: 'api_key.revoked' },
    { method: 'POST', path: `${site}/api-keys/:keyId/roll`, handler: apiKeys.rollApiKey, access: WRITE, audit: 'api_key.rolled' },
    { method: 'GET', path: `${site}/users`, handler: users.searchUsers, access: READ },
    {
      method: 'PUT',
      path: user,
      handler: users.putUser,
      access: WRITE,
      audit: (status) => (status === 201 ? 'user.created' : 'user.updated'),
    },
    { method: 'GET', path: user, handler: users.getUser, access: READ },
    { method: 'DELETE', path: user, handler: users.deleteUser, access: WRITE, audit: 'user.deleted' },
    { method: 'PUT', path: `${user}/products/:productId`, handler: users.grantProduct, access: WRITE, audit: PRODUCT_ACCESS },
    { method: 'DELETE', path: `${user}/products/:productId`, handler: users.revokeProduct, access: WRITE, audit: PRODUCT_ACCESS },
    { method: 'POST', path: `${user}/sessions`, handler: users.createSession, access: WRITE, audit: 'session.created' },
    { method: 'GET', path: `${user}/sessions`, handler: users.listSessions, access: READ },
    { method: 'DELETE', path: `${user}/sessions`, handler: users.endAllSessions, access: WRITE, audit: 'session.ended' },
    { method: 'POST', path: `${site}/webhook-endpoints`, handler: webhooks.createEndpoint, access: WRITE, audit: 'webhook_endpoint.created' },
    { method: 'GET', path: `${site}/webhook-endpoints`, handler: webhooks.listEndpoints, access: READ },
    { method: 'GET', path: `${site}/webhook-endpoints/:endpointId`, handler: webhooks.getEndpoint, access: READ },
    {
      method: 'PATCH',
      path: `${site}/webhook-endpoints/:endpointId`,
      handler: webhooks.updateEndpoint,
      access: WRITE,
      audit: 'webhook_endpoint.updated',
    },
    {
      method: 'DELETE',
      path: `${site}/webhook-endpoints/:endpointId`,
      handler: webhooks.deleteEndpoint,
      access: WRITE,
      audit: 'webhook_endpoint.deleted',
    },
    {
      method: 'POST',
      path: `${site}/webhook-endpoints/:endpointId/rotate-secret`,
      handler: webhooks.rotateSecret,
      access: WRITE,
      audit: 'webhook_endpoint.secret_rotated',
    },
    { method: 'GET', path: `${site}/webhook-endpoints/:endpointId/deliveries`, handler: webhooks.listDeliveries, access: READ },
    {
      method: 'POST',
      path: `${site}/webhook-endpoints/:endpointId/deliveries/:eventId/resend`,
      handler: webhooks.resend,
      access: WRITE,
      audit: 'webhook_delivery.resent',
    },
    { method: 'GET', path: `${env}/signing-keys`, handler: ops.listSigningKeys, access: READ },
    {
      method: 'POST',
      path: `${env}/signing-keys/rotate`,
      handler: ops.rotateSigningKey,
      access: { write: true, wholeEnvironment: true },
      audit: 'signing_key.rotated',
    },
    // Every site's changes: only for a token covering the whole environment.
    { method: 'GET', path: `${env}/audit-events`, handler: audit.listAuditEvents, access: { write: false, wholeEnvironment: true } },
    { method: 'GET', path: `${env}/stats/exchanges`, handler: ops.exchangeSeries, access: { write: false, wholeEnvironment: true } },
  ];
}

/** The route's `access`, against the environment and site its path names. */
function authorizeRoute(access: NonNullable<Route['access']>): RequestHandler {
  return function authorizeAdminCall(req: Request, res: Response, next: NextFunction): void {
    const environment = req.params.environment;
    const siteId = req.params.siteId;
    authorize(adminPrincipal(res), {
      ...access,
      ...(isEnvironment(environment) && { environment }),
      ...(typeof siteId === 'string' && { siteId }),
    });
    next();
  };
}

/**
 * Mounts a route table: the guard (if any) for every non-public route, each
 * route, then a 405 (with `Allow`) for other methods on a known path, then a
 * 404 for everything else.
 */
export function mountRoutes(app: Express, routes: readonly Route[], guard?: RequestHandler, audit?: AuditLog): void {
  const methodsByPath = new Map<string, Method[]>();
  if (guard) {
    // The guard runs before routing, so without the token even a 404 or 405 says nothing about what exists.
    const open = routes
      .filter((r) => r.public)
      .map((r) => ({ method: r.method, path: new RegExp(`^${r.path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:\w+/g, '[^/]+')}$`) }));
    app.use((req: Request, res: Response, next: NextFunction) => {
      const method = req.method === 'HEAD' ? 'GET' : req.method;
      if (open.some((r) => r.method === method && r.path.test(req.path))) {
        next();
        return undefined;
      }
      // The guard is async (it may read the store): Express 5 handles the promise's rejection.
      return guard(req, res, next);
    });
  }
  for (const route of routes) {
    const methods = methodsByPath.get(route.path) ?? [];
    methods.push(route.method);
    methodsByPath.set(route.path, methods);
    const tag = (req: Request, res: Response, next: NextFunction): void => {
      const state = requestState(res);
      state.route = route.path;
      // The site a path names is the one a refusal is logged with.
      if (typeof req.params.siteId === 'string') state.siteId = req.params.siteId;
      next();
    };
    const chain: RequestHandler[] = [tag];
    if (guard && !route.public) {
      // Behind the admin guard, a route without `access` would be open to every token: refuse to mount it.
      if (!route.access) throw new Error(`admin route ${route.method} ${route.path} declares no access`);
      chain.push(authorizeRoute(route.access));
    }
    if (route.audit !== undefined) {
      // An audited route must have an actor, and somewhere to log it.
      if (!guard || route.public || !audit) throw new Error(`audited route ${route.method} ${route.path} needs the admin guard and an audit log`);
      chain.push(auditStep(route.audit, audit));
    }
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
