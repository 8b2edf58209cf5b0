import type { ErrorRequestHandler, Express, NextFunction, Request, RequestHandler, Response } from 'express';
import type { Route } from './routes';

type Handle = (req: Request, res: Response, callback?: NextFunction) => void;

const noop = (): void => {};

/**
 * Serves one route of the table without a trip through Express's router.
 *
 * Express's router costs every request a walk over its layers (path
 * matching, param processing, a `next` closure per hop). For the exchange,
 * which every protected page view of every customer calls, that walk was
 * about a fifth of the CPU (`npm run bench`, docs/performance.md). A
 * request for exactly `route.method` + `route.path` (no query string, exact
 * case, as the router would match it with strict and case-sensitive
 * routing) gets what Express would give it — the app's request and
 * response prototypes, `res.locals`, then `before` (the app-level
 * middleware), the route tag and the route's handler, with errors going to
 * `onError` — and nothing else; every other request goes to Express as
 * before. Only for routes without CORS or a guard: their chain is simply
 * `before` + handler.
 */
export function serveHotRoute(
  app: Express,
  route: Route,
  before: readonly RequestHandler[],
  onError: ErrorRequestHandler,
): void {
  if (route.browser || route.public) throw new TypeError(`${route.path}: only a plain route can be served hot`);
  const target = app as unknown as { handle: Handle };
  const expressHandle = target.handle.bind(app);
  const chain: RequestHandler[] = [
    ...before,
    (_req, res, next) => {
      res.locals.route = route.path;
      next();
    },
    route.handler,
  ];

  const run = (index: number, req: Request, res: Response): void => {
    const fail = (err: unknown): void => {
      void onError(err, req, res, noop);
    };
    const handler = chain[index];
    if (handler === undefined) {
      fail(new Error(`${route.path}: the hot route fell through without answering`));
      return;
    }
    const next: NextFunction = (err?: unknown) => {
      if (err !== undefined && err !== null && err !== 'route' && err !== 'router') fail(err);
      else run(index + 1, req, res);
    };
    try {
      const result = handler(req, res, next) as unknown;
      // Express 5's promise support: a rejected handler is an error.
      if (result instanceof Promise) result.then(undefined, fail);
    } catch (err) {
      fail(err);
    }
  };

  target.handle = function handle(req: Request, res: Response, callback?: NextFunction): void {
    if (req.method !== route.method || req.url !== route.path) {
      expressHandle(req, res, callback);
      return;
    }
    // What app.handle and the router set up before a route's handlers run.
    req.res = res;
    res.req = req;
    Object.setPrototypeOf(req, app.request);
    Object.setPrototypeOf(res, app.response);
    if (!res.locals) res.locals = Object.create(null) as Response['locals'];
    if (app.enabled('x-powered-by')) res.setHeader('X-Powered-By', 'Express');
    req.originalUrl = req.url;
    req.baseUrl = '';
    req.params = {};
    run(0, req, res);
  };
}
