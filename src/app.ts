import express, { type Express } from 'express';
import helmet from 'helmet';
import type { AdminDeps, EnvironmentDeps } from './http/deps';
import { adminRoutes, environmentRoutes, mountRoutes } from './http/routes';
import { requestContext } from './http/middleware/request-context';
import { adminAuth } from './http/middleware/admin-auth';
import { errorHandler } from './http/middleware/errors';

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
export function createEnvironmentApp(deps: EnvironmentDeps): Express {
  const app = baseApp();
  app.use(requestContext(deps.domain.environment, deps.log, deps.metrics));
  app.use(helmet());
  mountRoutes(app, environmentRoutes(deps));
  app.use(errorHandler(deps.log));
  return app;
}

/** The admin listener's app: both environments, behind the admin token. */
export function createAdminApp(deps: AdminDeps): Express {
  const app = baseApp();
  app.use(requestContext('admin', deps.log, deps.metrics));
  app.use(helmet());
  mountRoutes(app, adminRoutes(deps), adminAuth(deps.adminToken));
  app.use(errorHandler(deps.log));
  return app;
}
