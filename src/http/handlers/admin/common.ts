import type { Request, Response } from 'express';
import type { ChangeCause } from '../../../domain/events';
import { adminPrincipal } from '../../middleware/admin-auth';
import { requestState } from '../../pipeline';
import { z } from 'zod';
import type { Domain } from '../../../domain';
import { isEnvironment } from '../../../domain/environments';
import { VerigateError } from '../../../domain/errors';
import type { AdminDeps } from '../../deps';

/** The domain of the environment named in the path; an unknown one is 404. */
export function domainFor(deps: AdminDeps, req: Request): Domain {
  const env = req.params.environment;
  if (!isEnvironment(env)) throw new VerigateError('not_found', 'The environment must be live or sandbox');
  const domain = deps.domains[env];
  if (!domain) throw new VerigateError('not_found', `This process does not serve the ${env} environment`);
  return domain;
}

/** Who makes this admin call and from where: it goes into the events of the change (the audit log). */
export function causeOf(res: Response): ChangeCause {
  return { actor: adminPrincipal(res).actor, clientAddress: requestState(res).clientAddress };
}

export function param(req: Request, name: string): string {
  const value = req.params[name];
  if (typeof value !== 'string') throw new VerigateError('not_found');
  return value;
}

/** An ISO 8601 instant in a body, to epoch ms. */
export const instant = z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date-time' }).transform((s) => Date.parse(s));
