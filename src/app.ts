import express, { type Express } from 'express';
import type { AdminDeps, EnvironmentDeps } from './http/deps';
import { adminRoutes, environmentRoutes, mountRoutes, type Route } from './http/routes';
import { requestContext } from './http/middleware/request-context';
import { adminAuth } from './http/middleware/admin-auth';
import { errorHandler } from './http/middleware/errors';
import { helmetDefaultHeaders } from './http/middleware/security-headers';
import { serveHotRoute } from './http/hot-route';

const EXCHANGE_PATH = '/live_api/s2s/v1/users/verification';

function baseApp(): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  // Case and trailing slashes matter in our contract.
  app.set('case sensitive routing', true);
  app.set('strict routing', true);
  return app;
}

/**
 * The app of one environment listener (live or sandbox). Built for exactly
 * one environment; it never listens — main.ts (or a test) does.
 */
export function createEnvironmentApp(deps: EnvironmentDeps, routes: readonly Route[] = environmentRoutes(deps)): Express {
  const app = baseApp();
  const context = requestContext(deps.domain.environment, deps.log, deps.metrics, helmetDefaultHeaders());
  const onError = errorHandler(deps.log);
  app.use(context);
  mountRoutes(app, routes);
  app.use(onError);
  // The exchange skips Express's router walk (src/http/hot-route.ts; docs/performance.md).
  const exchange = routes.find((r) => r.method === 'POST' && r.path === EXCHANGE_PATH);
  if (!exchange) throw new Error(`no route ${EXCHANGE_PATH} in the route table`);
  serveHotRoute(app, exchange, [context], onError);
  return app;
}

/** The admin listener's app: both environments, behind the admin token. */
export function createAdminApp(deps: AdminDeps, routes: readonly Route[] = adminRoutes(deps)): Express {
  const app = baseApp();
  app.use(requestContext('admin', deps.log, deps.metrics, helmetDefaultHeaders()));
  mountRoutes(app, routes, adminAuth(deps.adminToken));
  app.use(errorHandler(deps.log));
  return app;
}
