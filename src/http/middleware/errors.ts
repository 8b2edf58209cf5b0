import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import { VerigateError } from '../../domain/errors';
import { sendProblem, toVerigateError } from '../problem';

/** Express's own body/URL errors (e.g. a malformed percent-encoding) carry a status; map them to codes. */
function fromExpressError(err: unknown): VerigateError | null {
  const status = (err as { status?: unknown; statusCode?: unknown } | null)?.status;
  if (status === 400) return new VerigateError('invalid_request', 'The request could not be parsed');
  return null;
}

/** The one error handler: every thrown thing becomes a problem+json response. */
export function errorHandler(log: Logger) {
  // Express recognises an error handler by its four parameters.
  return function errorHandler(err: unknown, _req: Request, res: Response, _next: NextFunction): void {
    const problem = err instanceof VerigateError ? err : (fromExpressError(err) ?? toVerigateError(err));
    res.locals.errorCode = problem.code;
    if (problem.code === 'internal_error') {
      log.error({ requestId: res.locals.requestId, err }, 'unhandled error');
    } else if (problem.code === 'store_unavailable') {
      log.warn({ requestId: res.locals.requestId, cause: describeCause(err) }, 'store unavailable');
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    sendProblem(res, problem);
  };
}

function describeCause(err: unknown): string | undefined {
  const cause = (err as { cause?: unknown }).cause;
  return cause instanceof Error ? cause.message : undefined;
}
