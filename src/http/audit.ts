import type { ServerResponse } from 'node:http';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { adminPrincipal } from './middleware/admin-auth';
import type { AuditEntry } from './pipeline';

/**
 * The audit action of an admin route (SPEC §8): the event type of SPEC
 * §11 its success causes (`api_key.created`), or a function of the status
 * when one route causes two (`PUT …/users/{userId}`: created or updated).
 */
export type AuditAction = string | ((status: number) => string);

/** Writes one audit line (the pipeline does: it knows the request id and the client address). */
export type AuditLog = (res: ServerResponse, entry: AuditEntry) => void;

/**
 * The only members of an answer an audit line copies: ids, never the
 * secrets that travel with them (`apiKey`, `identitySecret`,
 * `sessionToken`, `token`). An allow-list, so a secret added to an answer
 * later cannot reach the log.
 */
const CREATED_IDS = ['siteId', 'keyId', 'sessionId', 'userId', 'kid', 'previousKid', 'tokenId', 'endpointId'] as const;
/** Path parameters that are ids (the environment is a field of its own). */
const PATH_IDS = ['siteId', 'userId', 'keyId', 'productId', 'tokenId', 'endpointId', 'eventId'] as const;

function pick(source: Record<string, unknown> | undefined, names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  if (!source) return out;
  for (const name of names) {
    const value = source[name];
    if (typeof value === 'string') out[name] = value;
  }
  return out;
}

/**
 * The step an audited route runs before its handler: once the answer is
 * out and is a success (2xx), one audit line with the action, the actor,
 * the environment and the ids the call touched. The handlers know nothing
 * of it; the route table (routes.ts) names each route's action.
 */
export function auditStep(action: AuditAction, log: AuditLog): RequestHandler {
  return function audit(req: Request, res: Response, next: NextFunction): void {
    const actor = adminPrincipal(res).actor;
    let answer: Record<string, unknown> | undefined;
    const json = res.json.bind(res);
    res.json = (body: unknown) => {
      if (body !== null && typeof body === 'object' && !Array.isArray(body)) answer = body as Record<string, unknown>;
      return json(body);
    };
    res.once('finish', () => {
      if (res.statusCode < 200 || res.statusCode >= 300) return;
      const created = pick(answer, CREATED_IDS);
      const environment = req.params.environment;
      log(res, {
        action: typeof action === 'string' ? action : action(res.statusCode),
        actor,
        environment: typeof environment === 'string' ? environment : null,
        ids: pick(req.params as Record<string, unknown>, PATH_IDS),
        created: Object.keys(created).length > 0 ? created : undefined,
      });
    });
    next();
  };
}
