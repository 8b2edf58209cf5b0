import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import request from 'supertest';
import { serveHotRoute } from '../../src/http/hot-route';
import type { Route } from '../../src/http/routes';

// A hot route must behave as if Express had routed it: the same middleware,
// the route tag, Express's request/response helpers, errors to the error
// handler; and every other request must still go through Express.

function appWith(handler: RequestHandler) {
  const app = express();
  app.set('strict routing', true);
  app.set('case sensitive routing', true);
  app.disable('x-powered-by');
  const seen: string[] = [];
  const before: RequestHandler = (req, res, next) => {
    seen.push(`before ${req.method} ${req.url}`);
    res.setHeader('X-Before', '1');
    next();
  };
  const route: Route = { method: 'POST', path: '/hot', handler };
  const onError = (err: unknown, _req: Request, res: Response, _next: NextFunction): void => {
    res.status(500).json({ error: err instanceof Error ? err.message : String(err), route: res.locals.route });
  };
  app.use(before);
  app.post('/hot', (req, res, next) => {
    seen.push('router');
    res.locals.route = '/hot';
    next();
  }, handler);
  app.all('/hot', (_req, res) => {
    res.status(405).json({ error: 'method' });
  });
  app.use(onError);
  serveHotRoute(app, route, [before], onError);
  return { app, seen };
}

describe('serveHotRoute', () => {
  it('serves the exact method and path without the router, with Express helpers and the route tag', async () => {
    const { app, seen } = appWith((req, res) => {
      res.status(201).json({ route: res.locals.route, ip: typeof req.ip, appSet: req.app.get('strict routing') });
    });
    const res = await request(app).post('/hot').send({ a: 1 });
    expect(res.status).toBe(201);
    expect(res.headers['x-before']).toBe('1');
    expect(res.body).toEqual({ route: '/hot', ip: 'string', appSet: true });
    expect(seen).toEqual(['before POST /hot']);
  });

  it('leaves everything else to Express: other methods, a query string, other paths', async () => {
    const { app, seen } = appWith((_req, res) => {
      res.json({ ok: true });
    });
    expect((await request(app).get('/hot')).status).toBe(405);
    expect((await request(app).post('/hot?x=1')).body).toEqual({ ok: true });
    expect((await request(app).post('/HOT')).status).toBe(404);
    expect(seen).toEqual(['before GET /hot', 'before POST /hot?x=1', 'router', 'before POST /HOT']);
  });

  it.each([
    ['a thrown error', (() => {
      throw new Error('thrown');
    }) as RequestHandler, 'thrown'],
    ['a rejected promise', (async () => {
      throw new Error('rejected');
    }) as RequestHandler, 'rejected'],
    ['next(err)', ((_req, _res, next) => next(new Error('passed'))) as RequestHandler, 'passed'],
  ])('sends %s to the error handler, tagged with the route', async (_label, handler, message) => {
    const { app } = appWith(handler);
    const res = await request(app).post('/hot');
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ error: message, route: '/hot' });
  });
});
