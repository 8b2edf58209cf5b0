import type { Request, Response } from 'express';
import { z } from 'zod';
import { MAX_IDENTITY_TOKEN_AGE_SECONDS, MAX_SITE_USERS } from '../../../domain/sites';
import { readJsonBody, validate } from '../../body';
import type { AdminDeps } from '../../deps';
import { coversSite } from '../../../domain/admin-access';
import { adminPrincipal } from '../../middleware/admin-auth';
import { causeOf, domainFor, param } from './common';

const origin = z.union([
  z.literal('*'),
  z
    .string()
    .max(2048)
    .refine((s) => {
      try {
        const u = new URL(s);
        // WHATWG URL accepts `*` (and other odd characters) in a host; an origin's host never has them.
        const host = /^(?:[a-z0-9-]+\.)*[a-z0-9-]+$|^\[[0-9a-f:.]+\]$/.test(u.hostname);
        return (u.protocol === 'https:' || u.protocol === 'http:') && host && u.origin === s;
      } catch {
        return false;
      }
    }, 'must be an origin like https://shop.example (scheme, host, optional port; no path)'),
]);

const siteFields = {
  name: z.string().min(1).max(200),
  allowedOrigins: z.array(origin).max(50),
  maxIdentityTokenAgeSeconds: z.number().int().min(1).max(MAX_IDENTITY_TOKEN_AGE_SECONDS),
  identityTokenReuse: z.enum(['refuse', 'allow']),
  /** Seats; null (the default) for no limit, 0 to take no new users. */
  maxUsers: z.number().int().min(0).max(MAX_SITE_USERS).nullable(),
};

const CreateSite = z.strictObject({
  name: siteFields.name,
  allowedOrigins: siteFields.allowedOrigins.optional(),
  maxIdentityTokenAgeSeconds: siteFields.maxIdentityTokenAgeSeconds.optional(),
  identityTokenReuse: siteFields.identityTokenReuse.optional(),
  maxUsers: siteFields.maxUsers.optional(),
});

const PatchSite = z
  .strictObject({
    name: siteFields.name.optional(),
    allowedOrigins: siteFields.allowedOrigins.optional(),
    maxIdentityTokenAgeSeconds: siteFields.maxIdentityTokenAgeSeconds.optional(),
    identityTokenReuse: siteFields.identityTokenReuse.optional(),
    maxUsers: siteFields.maxUsers.optional(),
  })
  .refine((p) => Object.keys(p).length > 0, 'give at least one of name, allowedOrigins, maxIdentityTokenAgeSeconds, identityTokenReuse, maxUsers');

const RotateIdentitySecret = z
  .strictObject({ graceSeconds: z.number().int().min(0).max(MAX_IDENTITY_TOKEN_AGE_SECONDS).optional() })
  .optional();

export function siteHandlers(deps: AdminDeps) {
  return {
    async createSite(req: Request, res: Response): Promise<void> {
      const domain = domainFor(deps, req);
      const input = validate(CreateSite, await readJsonBody(req));
      const { site, identitySecret } = await domain.sites.createSite(input, causeOf(res));
      res.status(201).setHeader('Location', `${req.baseUrl}${req.path}/${site.siteId}`);
      res.setHeader('Cache-Control', 'no-store');
      res.json({ ...domain.sites.view(site), identitySecret });
    },
    async listSites(req: Request, res: Response): Promise<void> {
      const domain = domainFor(deps, req);
      const principal = adminPrincipal(res);
      // A token limited to some sites sees only those.
      const sites = (await domain.sites.listSites()).filter((s) => coversSite(principal, s.siteId));
      res.json({ sites: sites.map((s) => domain.sites.view(s)) });
    },
    async getSite(req: Request, res: Response): Promise<void> {
      const domain = domainFor(deps, req);
      res.json(domain.sites.view(await domain.sites.getSite(param(req, 'siteId'))));
    },
    async updateSite(req: Request, res: Response): Promise<void> {
      const domain = domainFor(deps, req);
      const patch = validate(PatchSite, await readJsonBody(req));
      res.json(domain.sites.view(await domain.sites.updateSite(param(req, 'siteId'), patch, causeOf(res))));
    },
    async deleteSite(req: Request, res: Response): Promise<void> {
      const domain = domainFor(deps, req);
      await domain.sites.deleteSite(param(req, 'siteId'), causeOf(res));
      res.status(204).end();
    },
    async revealIdentitySecret(req: Request, res: Response): Promise<void> {
      const domain = domainFor(deps, req);
      const secrets = await domain.sites.revealIdentitySecret(param(req, 'siteId'));
      res.setHeader('Cache-Control', 'no-store');
      res.json(secrets);
    },
    async rotateIdentitySecret(req: Request, res: Response): Promise<void> {
      const domain = domainFor(deps, req);
      const body = validate(RotateIdentitySecret, await readJsonBody(req));
      const secrets = await domain.sites.rotateIdentitySecret(param(req, 'siteId'), body?.graceSeconds ?? 0, causeOf(res));
      res.setHeader('Cache-Control', 'no-store');
      res.json(secrets);
    },
  };
}
