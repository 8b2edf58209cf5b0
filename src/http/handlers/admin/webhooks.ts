import type { Request, Response } from 'express';
import { z } from 'zod';
import { EVENT_TYPES } from '../../../domain/events';
import { readJsonBody, validate } from '../../body';
import type { AdminDeps } from '../../deps';
import { causeOf, domainFor, param } from './common';

const url = z.string().min(1).max(2048);
const eventTypes = z.array(z.enum(EVENT_TYPES)).min(1).max(EVENT_TYPES.length);

const CreateEndpoint = z.strictObject({
  url,
  eventTypes: eventTypes.optional(),
  description: z.string().max(500).optional(),
});

const PatchEndpoint = z
  .strictObject({
    url: url.optional(),
    eventTypes: eventTypes.nullable().optional(),
    description: z.string().max(500).nullable().optional(),
    disabled: z.boolean().optional(),
  })
  .refine((p) => Object.keys(p).length > 0, 'give at least one of url, eventTypes, description, disabled');

const ListDeliveries = z.strictObject({
  cursor: z.string().min(1).max(128).optional(),
  limit: z.coerce.number().int().min(1).max(100).optional(),
});

export function webhookHandlers(deps: AdminDeps) {
  return {
    async createEndpoint(req: Request, res: Response): Promise<void> {
      const domain = domainFor(deps, req);
      const input = validate(CreateEndpoint, await readJsonBody(req));
      const { endpoint, secret } = await domain.webhooks.createEndpoint(param(req, 'siteId'), input, causeOf(res));
      res.status(201).setHeader('Location', `${req.baseUrl}${req.path}/${endpoint.endpointId}`);
      res.setHeader('Cache-Control', 'no-store');
      res.json({ ...domain.webhooks.view(endpoint), secret });
    },
    async listEndpoints(req: Request, res: Response): Promise<void> {
      const domain = domainFor(deps, req);
      const endpoints = await domain.webhooks.listEndpoints(param(req, 'siteId'));
      res.json({ webhookEndpoints: endpoints.map((e) => domain.webhooks.view(e)) });
    },
    async getEndpoint(req: Request, res: Response): Promise<void> {
      const domain = domainFor(deps, req);
      res.json(domain.webhooks.view(await domain.webhooks.getEndpoint(param(req, 'siteId'), param(req, 'endpointId'))));
    },
    async updateEndpoint(req: Request, res: Response): Promise<void> {
      const domain = domainFor(deps, req);
      const patch = validate(PatchEndpoint, await readJsonBody(req));
      const updated = await domain.webhooks.updateEndpoint(param(req, 'siteId'), param(req, 'endpointId'), patch, causeOf(res));
      res.json(domain.webhooks.view(updated));
    },
    async deleteEndpoint(req: Request, res: Response): Promise<void> {
      const domain = domainFor(deps, req);
      await domain.webhooks.deleteEndpoint(param(req, 'siteId'), param(req, 'endpointId'), causeOf(res));
      res.status(204).end();
    },
    async rotateSecret(req: Request, res: Response): Promise<void> {
      const domain = domainFor(deps, req);
      const { endpoint, secret } = await domain.webhooks.rotateSecret(param(req, 'siteId'), param(req, 'endpointId'), causeOf(res));
      res.setHeader('Cache-Control', 'no-store');
      res.json({ ...domain.webhooks.view(endpoint), secret });
    },
    async listDeliveries(req: Request, res: Response): Promise<void> {
      const domain = domainFor(deps, req);
      const q = validate(ListDeliveries, req.query);
      const page = await domain.webhooks.listDeliveries(param(req, 'siteId'), param(req, 'endpointId'), q.cursor ?? null, q.limit ?? 25);
      res.setHeader('Cache-Control', 'no-store');
      res.json(page);
    },
    async resend(req: Request, res: Response): Promise<void> {
      const domain = domainFor(deps, req);
      const rows = await domain.webhooks.resend(param(req, 'siteId'), param(req, 'endpointId'), param(req, 'eventId'));
      res.status(202).setHeader('Cache-Control', 'no-store');
      res.json({ deliveries: rows });
    },
  };
}
