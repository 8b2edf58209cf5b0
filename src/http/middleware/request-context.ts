import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import type { Metrics } from '../../ops/metrics';

const SAFE_REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Gives every request an id (the caller's `X-Request-Id` when it is sane),
 * echoes it, sets the constant `headers` every response carries (the
 * security headers: here rather than in a middleware of their own, which
 * would cost every request one more trip through Express's router), and on
 * finish records metrics and one log line. Successful requests log at debug
 * so that, at the default level, a good request costs no log write;
 * failures log at info/warn/error.
 */
export function requestContext(
  listener: string,
  log: Logger,
  metrics: Metrics,
  headers: readonly (readonly [string, string])[] = [],
) {
  return function requestContext(req: Request, res: Response, next: NextFunction): void {
    const incoming = req.headers['x-request-id'];
    const requestId = typeof incoming === 'string' && SAFE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
    res.locals.requestId = requestId;
    res.setHeader('X-Request-Id', requestId);
    for (const [name, value] of headers) res.setHeader(name, value);
    const started = process.hrtime.bigint();
    // 'finish' comes once per response: `on` spares the wrapper `once` makes.
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = (res.locals.route as string | undefined) ?? 'unmatched';
      const status = res.statusCode;
      metrics.httpRequests.inc({ environment: listener, route, method: req.method, status: String(status) });
      metrics.httpDuration.observe({ environment: listener, route }, seconds);
      const level = status >= 500 ? 'error' : status >= 400 ? 'info' : 'debug';
      if (log.isLevelEnabled(level)) {
        // Only the route pattern and path: never headers, bodies or query strings (they may carry secrets).
        log[level](
          {
            requestId,
            method: req.method,
            route,
            status,
            ms: Math.round(seconds * 1e4) / 10,
            ...(res.locals.errorCode !== undefined && { code: res.locals.errorCode }),
          },
          'request',
        );
      }
    });
    next();
  };
}
