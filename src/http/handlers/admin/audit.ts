import type { Request, Response } from 'express';
import { z } from 'zod';
import { MAX_EVENT_PAGE } from '../../../domain/event-feed';
import { validate } from '../../body';
import type { AdminDeps } from '../../deps';
import { domainFor } from './common';

const AuditQuery = z.strictObject({
  cursor: z.string().min(1).max(512).optional(),
  limit: z.coerce.number().int().min(1).max(MAX_EVENT_PAGE).optional(),
});

export function auditHandlers(deps: AdminDeps) {
  return {
    /** GET /admin/v1/{environment}/audit-events — what admin calls changed, newest first. */
    async listAuditEvents(req: Request, res: Response): Promise<void> {
      const domain = domainFor(deps, req);
      const q = validate(AuditQuery, req.query);
      res.setHeader('Cache-Control', 'no-store');
      res.json(await domain.events.auditPage(q.cursor ?? null, q.limit));
    },
  };
}
