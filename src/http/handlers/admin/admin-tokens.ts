import type { Request, Response } from 'express';
import { z } from 'zod';
import { ENVIRONMENTS, type Environment } from '../../../domain/environments';
import { readJsonBody, validate } from '../../body';
import type { AdminDeps } from '../../deps';
import { adminPrincipal } from '../../middleware/admin-auth';
import { param } from './common';

const CreateAdminToken = z.strictObject({
  name: z.string().min(1).max(200),
  environments: z.array(z.enum(ENVIRONMENTS)).min(1).max(2),
  siteIds: z.array(z.string().min(1).max(64)).min(1).max(100).optional(),
  role: z.enum(['read', 'write']),
});

/** `/admin/v1/admin-tokens` (root only: routes.ts) and `/admin/v1/environments` (anyone signed in). */
export function adminTokenHandlers(deps: AdminDeps) {
  const { access } = deps;
  return {
    async createAdminToken(req: Request, res: Response): Promise<void> {
      const input = validate(CreateAdminToken, await readJsonBody(req));
      const { record, token } = await access.createToken(input);
      res.status(201).setHeader('Cache-Control', 'no-store');
      res.setHeader('Location', `/admin/v1/admin-tokens/${record.tokenId}`);
      res.json({ ...access.view(record), token });
    },
    async listAdminTokens(_req: Request, res: Response): Promise<void> {
      res.json({ adminTokens: (await access.listTokens()).map((r) => access.view(r)) });
    },
    async revokeAdminToken(req: Request, res: Response): Promise<void> {
      await access.revokeToken(param(req, 'tokenId'));
      res.status(204).end();
    },
    /** The environments this gateway serves that the caller's token covers, with their public base URLs. */
    listEnvironments(_req: Request, res: Response): void {
      const principal = adminPrincipal(res);
      const environments = access.environments
        .filter((env) => principal.environments.includes(env))
        .map((environment: Environment) => ({ environment, publicUrl: deps.publicUrls[environment] }));
      res.json({ environments });
    },
  };
}
