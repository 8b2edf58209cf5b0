import type { RequestListener } from 'node:http';
import express, { type Express } from 'express';
import type { AdminDeps, EnvironmentDeps } from './deps';
import { createFastLane, type NodeHandler } from './fast-lane';
import { adminAuth } from './middleware/admin-auth';
import { Pipeline } from './pipeline';
import { adminRoutes, environmentRoutes, EXCHANGE_PATH, mountRoutes, type Route } from './routes';

/** One listener, built: what node:http serves, and what it is made of. */
export interface BuiltListener {
  /** Give this to node:http's createServer. */
  readonly requestListener: RequestListener;
  /** The steps every request shares (the Express app and the fast lane both run them). */
  readonly pipeline: Pipeline;
  /** The Express app behind it. */
  readonly app: Express;
  readonly routes: readonly Route[];
}

/**
 * The Express app of a listener. Its only app-level middleware are the
 * pipeline's (test/http/pipeline.test.ts holds it to that, so a middleware
 * added here would have to be added to the pipeline, which the fast lane
 * runs too); routes carry what is particular to them.
 */
function expressApp(pipeline: Pipeline, routes: readonly Route[], guard?: Parameters<typeof mountRoutes>[2]): Express {
  const audit: Parameters<typeof mountRoutes>[3] = (res, entry) => pipeline.audit(res, entry);
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  // Case and trailing slashes matter in our contract.
  app.set('case sensitive routing', true);
  app.set('strict routing', true);
  for (const step of pipeline.expressMiddleware) app.use(step);
  mountRoutes(app, routes, guard, audit);
  app.use(pipeline.expressErrorHandler);
  return app;
}

/**
 * An environment listener (live or sandbox), built for exactly one
 * environment: the exchange's fast lane in front of the Express app. It
 * never listens — the gateway (or a test) does.
 */
export function createEnvironmentListener(deps: EnvironmentDeps): BuiltListener {
  const routes = environmentRoutes(deps);
  const exchange = routes.find((r) => r.method === 'POST' && r.path === EXCHANGE_PATH);
  if (!exchange) throw new Error(`no route ${EXCHANGE_PATH} in the route table`);
  const app = expressApp(deps.pipeline, routes);
  return {
    requestListener: createFastLane(deps.pipeline, exchange.handler as NodeHandler, app),
    pipeline: deps.pipeline,
    app,
    routes,
  };
}

/** The admin listener: both environments, behind the admin token; Express only. */
export function createAdminListener(deps: AdminDeps): BuiltListener {
  const pipeline = new Pipeline('admin', deps.log, deps.metrics, deps.clientAddressOf ? { clientAddressOf: deps.clientAddressOf } : {});
  const routes = adminRoutes(deps);
  const app = expressApp(pipeline, routes, adminAuth(deps.access, deps.adminFailures));
  return { requestListener: app, pipeline, app, routes };
}
