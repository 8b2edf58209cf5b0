import type { Request, Response } from 'express';
import type { AdminDeps } from '../../deps';
import { domainFor } from './common';

export function signingKeyHandlers(deps: AdminDeps) {
  return {
    async rotateSigningKey(req: Request, res: Response): Promise<void> {
      const domain = domainFor(deps, req);
      res.json(await domain.signingKeys.rotateSigningKey());
    },
    async metrics(_req: Request, res: Response): Promise<void> {
      res.setHeader('Content-Type', deps.metrics.registry.contentType);
      res.end(await deps.metrics.registry.metrics());
    },
  };
}
