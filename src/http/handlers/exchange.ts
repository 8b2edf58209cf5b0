import type { Request, Response } from 'express';
import { z } from 'zod';
import type { ApiKeyRecord } from '../../domain/api-keys';
import { VerigateError } from '../../domain/errors';
import type { ExchangeResult } from '../../domain/exchange';
import { readJsonBody, validate } from '../body';
import type { EnvironmentDeps } from '../deps';

const ExchangeBody = z.strictObject({
  userVerificationToken: z.string({ error: 'userVerificationToken must be a string' }),
  productId: z.string().min(1).max(256).optional(),
});

/**
 * POST /live_api/s2s/v1/users/verification — the exchange. Authenticate the
 * API key, read the body, verify the token, answer. Fails closed: a store
 * fault is a 503 (thrown), never a guess.
 */
export function exchangeHandler(deps: EnvironmentDeps) {
  const { domain, metrics } = deps;
  const outcomes = metrics.exchangeOutcomes;
  const environment = domain.environment;

  const limits = deps.rateLimits;

  /** The key, or its refusal; refusals count against the caller's address (a flood of bad keys gets 429). */
  const authenticateApiKey = async (req: Request): Promise<ApiKeyRecord> => {
    try {
      return await domain.apiKeys.authenticate(req.headers['x-api-key'] as string | undefined);
    } catch (err) {
      if (err instanceof VerigateError && err.status === 401) await limits.failedApiKeyPerIp.consume(req.ip ?? 'unknown');
      throw err;
    }
  };

  const parseBody = async (req: Request) => validate(ExchangeBody, await readJsonBody(req));

  const respond = (res: Response, result: ExchangeResult): void => {
    outcomes.inc({ environment, outcome: result.isAuthenticated ? 'verified' : result.reason });
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.end(JSON.stringify(result));
  };

  return async function exchangeVerificationToken(req: Request, res: Response): Promise<void> {
    const apiKey = await authenticateApiKey(req);
    await limits.exchangePerApiKey.consume(apiKey.keyId);
    const body = await parseBody(req);
    const result = await domain.exchange.exchangeVerificationToken(apiKey, body.userVerificationToken, body.productId);
    respond(res, result);
  };
}
