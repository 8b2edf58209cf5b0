import type { Request, Response } from 'express';
import type { AdminDeps } from '../../deps';
import { authorize } from '../../../domain/admin-access';
import { adminPrincipal } from '../../middleware/admin-auth';
import { causeOf, domainFor } from './common';

export function signingKeyHandlers(deps: AdminDeps) {
  return {
    async rotateSigningKey(req: Request, res: Response): Promise<void> {
      const domain = domainFor(deps, req);
      res.json(await domain.signingKeys.rotateSigningKey(causeOf(res)));
    },
    async listSigningKeys(req: Request, res: Response): Promise<void> {
      const domain = domainFor(deps, req);
      res.json({ keys: await domain.signingKeys.listSigningKeys() });
    },
    /** The console's chart: exchanges per second by outcome, last 15 minutes, every instance's. */
    async exchangeSeries(req: Request, res: Response): Promise<void> {
      const domain = domainFor(deps, req);
      res.setHeader('Cache-Control', 'no-store');
      res.json(await domain.exchangeStats.series());
    },
    async metrics(_req: Request, res: Response): Promise<void> {
      // The process's metrics cover every environment it serves: the token must cover them all.
      const principal = adminPrincipal(res);
      for (const environment of deps.access.environments) authorize(principal, { environment, write: false });
      res.setHeader('Content-Type', deps.metrics.registry.contentType);
      res.end(await deps.metrics.registry.metrics());
    },
  };
}
