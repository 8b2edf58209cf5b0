import type { Request, Response } from 'express';
import { z } from 'zod';
import { isWellFormedUserId, MAX_USER_ID_LENGTH, MAX_USER_SEARCH_LIMIT } from '../../../domain/users';
import { readJsonBody, validate } from '../../body';
import type { AdminDeps } from '../../deps';
import { causeOf, domainFor, instant, param } from './common';
import { VerigateError } from '../../../domain/errors';

const attributeValue = z.union([z.string(), z.number(), z.boolean(), z.null()]);

const PutUser = z.strictObject({
  email: z.email().max(320).nullable().optional(),
  name: z.string().max(256).nullable().optional(),
  attributes: z.record(z.string(), attributeValue).optional(),
  productAccess: z
    .array(z.strictObject({ productId: z.string().min(1).max(256), expiresAt: instant.nullable().optional() }))
    .max(100)
    .optional(),
});

const CreateSession = z
  .strictObject({
    expiresInSeconds: z.number().int().min(60).max(365 * 24 * 3600).optional(),
    idleTimeoutSeconds: z.number().int().min(60).max(365 * 24 * 3600).optional(),
  })
  .optional();

const SearchUsers = z.strictObject({
  query: z.string().max(320).optional(),
  cursor: z.string().min(1).max(2048).optional(),
  limit: z.coerce.number().int().min(1).max(MAX_USER_SEARCH_LIMIT).optional(),
});

const GrantProduct = z.strictObject({ expiresAt: instant.nullable().optional() }).optional();

function productIdParam(req: Request): string {
  const productId = param(req, 'productId');
  if (productId.length < 1 || productId.length > 256) {
    throw new VerigateError('invalid_request', 'productId must be 1 to 256 characters', {
      errors: [{ path: 'productId', message: 'must be 1 to 256 characters' }],
    });
  }
  return productId;
}

function userIdParam(req: Request): string {
  const userId = param(req, 'userId');
  if (userId.length < 1 || userId.length > MAX_USER_ID_LENGTH) {
    throw new VerigateError('invalid_request', `userId must be 1 to ${MAX_USER_ID_LENGTH} characters`, {
      errors: [{ path: 'userId', message: `must be 1 to ${MAX_USER_ID_LENGTH} characters` }],
    });
  }
  if (!isWellFormedUserId(userId)) {
    throw new VerigateError('invalid_request', 'userId must be well-formed Unicode (no lone surrogates)', {
      errors: [{ path: 'userId', message: 'must be well-formed Unicode (no lone surrogates)' }],
    });
  }
  return userId;
}

export function userHandlers(deps: AdminDeps) {
  return {
    async putUser(req: Request, res: Response): Promise<void> {
      const domain = domainFor(deps, req);
      const body = validate(PutUser, (await readJsonBody(req)) ?? {});
      const { user, created } = await domain.users.upsertUser(param(req, 'siteId'), userIdParam(req), {
        email: body.email,
        name: body.name,
        attributes: body.attributes,
        productAccess: body.productAccess?.map((p) => ({ productId: p.productId, expiresAt: p.expiresAt ?? null })),
      }, causeOf(res));
      res.status(created ? 201 : 200).setHeader('Cache-Control', 'no-store');
      res.json(domain.users.view(user));
    },
    async searchUsers(req: Request, res: Response): Promise<void> {
      const domain = domainFor(deps, req);
      const q = validate(SearchUsers, req.query);
      const page = await domain.users.searchUsers(param(req, 'siteId'), {
        query: q.query ?? '',
        cursor: q.cursor ?? null,
        ...(q.limit !== undefined && { limit: q.limit }),
      });
      res.setHeader('Cache-Control', 'no-store');
      res.json({ users: page.users.map((u) => domain.users.view(u)), nextCursor: page.nextCursor });
    },
    async grantProduct(req: Request, res: Response): Promise<void> {
      const domain = domainFor(deps, req);
      const body = validate(GrantProduct, await readJsonBody(req));
      const user = await domain.users.grantProduct(param(req, 'siteId'), userIdParam(req), {
        productId: productIdParam(req),
        expiresAt: body?.expiresAt ?? null,
      }, causeOf(res));
      res.setHeader('Cache-Control', 'no-store');
      res.json(domain.users.view(user));
    },
    async revokeProduct(req: Request, res: Response): Promise<void> {
      const domain = domainFor(deps, req);
      const user = await domain.users.revokeProduct(param(req, 'siteId'), userIdParam(req), productIdParam(req), causeOf(res));
      res.setHeader('Cache-Control', 'no-store');
      res.json(domain.users.view(user));
    },
    async getUser(req: Request, res: Response): Promise<void> {
      const domain = domainFor(deps, req);
      const user = await domain.users.getUser(param(req, 'siteId'), userIdParam(req));
      res.setHeader('Cache-Control', 'no-store');
      res.json(domain.users.view(user));
    },
    async deleteUser(req: Request, res: Response): Promise<void> {
      const domain = domainFor(deps, req);
      await domain.users.deleteUser(param(req, 'siteId'), userIdParam(req), causeOf(res));
      res.status(204).end();
    },
    async createSession(req: Request, res: Response): Promise<void> {
      const domain = domainFor(deps, req);
      const options = validate(CreateSession, await readJsonBody(req));
      const { session, sessionToken } = await domain.sessions.createSession(
        param(req, 'siteId'),
        userIdParam(req),
        options ?? {},
        causeOf(res),
      );
      res.status(201).setHeader('Cache-Control', 'no-store');
      res.json({ sessionToken, ...domain.sessions.view(session) });
    },
    async listSessions(req: Request, res: Response): Promise<void> {
      const domain = domainFor(deps, req);
      const sessions = await domain.sessions.listSessions(param(req, 'siteId'), userIdParam(req));
      res.setHeader('Cache-Control', 'no-store');
      res.json({ sessions: sessions.map((s) => domain.sessions.view(s)) });
    },
    async endAllSessions(req: Request, res: Response): Promise<void> {
      const domain = domainFor(deps, req);
      await domain.sessions.endAllSessions(param(req, 'siteId'), userIdParam(req), causeOf(res));
      res.status(204).end();
    },
  };
}
