import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import type { ApiKeyRecord } from '../../domain/api-keys';
import { VerigateError } from '../../domain/errors';
import { parseCredential } from '../../domain/credentials';
import { readJsonBody, validate } from '../body';
import type { EnvironmentDeps } from '../deps';
import { requestState } from '../pipeline';

const looksLikeSecretKey = (value: string): boolean => parseCredential(value, 'sk').ok;

const ExchangeBody = z.strictObject({
  userVerificationToken: z.string({ error: 'userVerificationToken must be a string' }),
  productId: z.string().min(1).max(256).optional(),
});

const JSON_TYPE = 'application/json; charset=utf-8';
/** Token- and user-bearing responses are never cached (SPEC §3). */
const NO_STORE: readonly string[] = ['Cache-Control', 'no-store'];
/** On a verified answer: until when it holds unless an event says otherwise (domain/exchange.ts ExchangeAnswer; SPEC §12). */
const REUSABLE_UNTIL = 'X-Verigate-Reusable-Until';
/** On every answer of a key that expires (set at creation, or by a roll): when it stops working. */
const API_KEY_EXPIRES_AT = 'X-Verigate-Api-Key-Expires-At';

/**
 * POST /live_api/s2s/v1/users/verification — the exchange, on node's own
 * request and response (the fast lane serves it without Express; Express
 * serves it too, when the fast lane hands a request on). Authenticate the
 * API key, count it against the per-key limit, read the body, verify the
 * token, answer. Fails closed: a store fault is a 503 (thrown), never a guess.
 */
export function exchangeHandler(deps: EnvironmentDeps) {
  const { domain, pipeline } = deps;
  const outcomes = deps.metrics.exchangeOutcomes;
  const environment = domain.environment;
  const stats = domain.exchangeStats;
  const limits = deps.rateLimits;
  /** One label object per outcome (a fixed set), not one per exchange. */
  const outcomeLabels = new Map<string, { environment: string; outcome: string }>();
  const countOutcome = (outcome: string): void => {
    let labels = outcomeLabels.get(outcome);
    if (labels === undefined) {
      labels = { environment, outcome };
      outcomeLabels.set(outcome, labels);
    }
    outcomes.inc(labels);
  };

  /**
   * The key, or its refusal. A refusal that took a store lookup (a
   * well-formed key that is unknown, revoked or expired) counts against the
   * caller's address, so a flood of guesses gets 429 and stops costing
   * lookups. A malformed key (typo, truncation, other environment) costs no
   * store work and is refused without touching the store, as SPEC §2 says.
   */
  const authenticateApiKey = async (req: IncomingMessage, addressKey: string): Promise<ApiKeyRecord> => {
    // Node joins a repeated X-API-KEY into one string, so a string it is.
    const presented = req.headers['x-api-key'] as string | undefined;
    try {
      return await domain.apiKeys.authenticate(presented);
    } catch (err) {
      if (err instanceof VerigateError && err.code === 'invalid_api_key' && presented !== undefined && looksLikeSecretKey(presented)) {
        await limits.failedApiKeyPerIp.consume(addressKey);
      }
      throw err;
    }
  };

  return async function exchangeVerificationToken(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Not a try/next wrapper: a refusal is counted for the console's chart (by its code), then rethrown as ever.
    const state = requestState(res);
    try {
      const apiKey = await authenticateApiKey(req, state.addressKey);
      state.siteId = apiKey.siteId;
      await limits.exchangePerApiKey.consume(apiKey.keyId);
      const body = validate(ExchangeBody, await readJsonBody(req));
      const { result, reusableUntil } = await domain.exchange.answerVerificationToken(apiKey, body.userVerificationToken, body.productId);
      const outcome = result.isAuthenticated ? 'verified' : result.reason;
      countOutcome(outcome);
      stats.count(outcome);
      let headers = NO_STORE;
      if (reusableUntil !== null || apiKey.expiresAt !== null) {
        const more = [...NO_STORE];
        if (reusableUntil !== null) more.push(REUSABLE_UNTIL, new Date(reusableUntil).toISOString());
        if (apiKey.expiresAt !== null) more.push(API_KEY_EXPIRES_AT, new Date(apiKey.expiresAt).toISOString());
        headers = more;
      }
      pipeline.send(res, 200, JSON_TYPE, JSON.stringify(result), headers);
    } catch (err) {
      const code = err instanceof VerigateError ? err.code : 'internal_error';
      countOutcome(code);
      stats.count(code);
      throw err;
    }
  };
}
