import type { Request, Response } from 'express';
import { z } from 'zod';
import { readJsonBody, validate } from '../../body';
import type { AdminDeps } from '../../deps';
import { causeOf, domainFor, instant, param } from './common';

const CreateApiKey = z.strictObject({ name: z.string().min(1).max(200), expiresAt: instant.optional() });
const RollApiKey = z.strictObject({ expiresInSeconds: z.number().int().min(0).max(7 * 24 * 3600) });

export function apiKeyHandlers(deps: AdminDeps) {
  return {
    async createApiKey(req: Request, res: Response): Promise<void> {
      const domain = domainFor(deps, req);
      // expiresAt is checked against the domain's clock (in createApiKey), not the wall clock.
      const input = validate(CreateApiKey, await readJsonBody(req));
      const { record, apiKey } = await domain.apiKeys.createApiKey(param(req, 'siteId'), input, causeOf(res));
      res.status(201).setHeader('Cache-Control', 'no-store');
      res.json({ ...domain.apiKeys.view(record), apiKey });
    },
    async listApiKeys(req: Request, res: Response): Promise<void> {
      const domain = domainFor(deps, req);
      res.json({ apiKeys: await domain.apiKeys.listApiKeys(param(req, 'siteId')) });
    },
    async revokeApiKey(req: Request, res: Response): Promise<void> {
      const domain = domainFor(deps, req);
      await domain.sites.getSite(param(req, 'siteId'));
      await domain.apiKeys.revokeApiKey(param(req, 'siteId'), param(req, 'keyId'), causeOf(res));
      res.status(204).end();
    },
    async rollApiKey(req: Request, res: Response): Promise<void> {
      const domain = domainFor(deps, req);
      const { expiresInSeconds } = validate(RollApiKey, await readJsonBody(req));
      await domain.sites.getSite(param(req, 'siteId'));
      const rolled = await domain.apiKeys.rollApiKey(param(req, 'siteId'), param(req, 'keyId'), expiresInSeconds, causeOf(res));
      res.status(201).setHeader('Cache-Control', 'no-store');
      res.json({
        ...domain.apiKeys.view(rolled.record),
        apiKey: rolled.apiKey,
        previousKey: domain.apiKeys.view(rolled.previous),
      });
    },
  };
}
