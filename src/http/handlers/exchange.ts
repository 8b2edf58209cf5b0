import type { Request, Response } from 'express';
import { z } from 'zod';
import type { ApiKeyRecord } from '../../domain/api-keys';
import { VerigateError } from '../../domain/errors';
import { parseCredential } from '../../domain/credentials';
import type { ExchangeResult } from '../../domain/exchange';
import { readJsonBody, validate } from '../body';
import type { EnvironmentDeps } from '../deps';

const looksLikeSecretKey = (value: string): boolean => parseCredential(value, 'sk').ok;

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

  /**
   * The key, or its refusal. A refusal that took a store lookup (a
   * well-formed key that is unknown, revoked or expired) counts against the
   * caller's address, so a flood of guesses gets 429 and stops costing
   * lookups. A malformed key (typo, truncation, other environment) costs no
   * store work and is refused without touching the store, as SPEC §2 says.
   */
  const authenticateApiKey = async (req: Request): Promise<ApiKeyRecord> => {
    const presented = req.headers['x-api-key'] as string | undefined;
    try {
      return await domain.apiKeys.authenticate(presented);
    } catch (err) {
      if (err instanceof VerigateError && err.code === 'invalid_api_key' && presented !== undefined && looksLikeSecretKey(presented)) {
        await limits.failedApiKeyPerIp.consume(req.ip ?? 'unknown');
      }
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
