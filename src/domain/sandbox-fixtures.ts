import { epochSeconds, iso } from './clock';
import type { Environment } from './environments';
import { VERIFICATION_TOKEN_LIFETIME_SECONDS } from './signing-keys';
import type { TokenFailure } from './verification-tokens';

/**
 * Sandbox fixtures (SPEC §9): fixed verification tokens, `vg_sandbox_test_<outcome>`,
 * that the sandbox exchange answers with that outcome for the fixture user
 * `test_user`, so customers can test their backends without a browser. The
 * API key is checked as for any exchange (any valid sandbox key of any site).
 *
 * Only the sandbox answers them: on live this module answers nothing, and the
 * token, not being a JWT, verifies as `token_malformed` like any other junk.
 * A `vg_sandbox_test_…` token that is not one of these is left to the
 * verifier too, so it is `token_malformed` on the sandbox as well.
 *
 * `hasProductAccess` follows the real exchange: present exactly when the
 * request names a `productId`. Its value is `true` for
 * `verified_with_access` and `false` for `verified` and
 * `verified_without_access` (the fixture user holds no product but the one
 * `verified_with_access` grants: the requested one, else `test_product`).
 */
export const SANDBOX_FIXTURE_PREFIX = 'vg_sandbox_test_';

/** The fixture user every verified fixture answers with. */
export const SANDBOX_FIXTURE_USER = {
  userId: 'test_user',
  email: 'test_user@example.com',
  name: 'Test User',
  sessionId: 'sess_sandbox_test_user',
  /** The product `verified_with_access` grants when the request names none. */
  defaultProductId: 'test_product',
} as const;

type Reason = TokenFailure | 'session_ended' | 'user_not_found';

/** One fixture per not-verified `reason` of SPEC §3, in the order of openapi.yaml's enum. */
export const SANDBOX_FIXTURE_REASONS = [
  'token_malformed',
  'token_invalid',
  'token_expired',
  'token_wrong_environment',
  'token_wrong_site',
  'session_ended',
  'user_not_found',
] as const satisfies readonly Reason[];

// A reason added to the exchange without a fixture fails to compile here.
const everyReasonHasAFixture: [Exclude<Reason, (typeof SANDBOX_FIXTURE_REASONS)[number]>] extends [never] ? true : false = true;
void everyReasonHasAFixture;

export const SANDBOX_FIXTURE_VERIFIED = ['verified', 'verified_with_access', 'verified_without_access'] as const;

/** Every fixture outcome; the token is `vg_sandbox_test_<outcome>`. */
export const SANDBOX_FIXTURE_OUTCOMES = [...SANDBOX_FIXTURE_VERIFIED, ...SANDBOX_FIXTURE_REASONS] as const;
export type SandboxFixtureOutcome = (typeof SANDBOX_FIXTURE_OUTCOMES)[number];

const OUTCOMES: ReadonlySet<string> = new Set(SANDBOX_FIXTURE_OUTCOMES);

type FixtureAnswer =
  | {
      isAuthenticated: true;
      environment: 'sandbox';
      userInfo: {
        userId: string;
        email: string;
        name: string;
        productAccess: { productId: string; expiresAt: null }[];
        attributes: Record<string, never>;
      };
      sessionId: string;
      tokenExpiresAt: string;
      hasProductAccess?: boolean;
    }
  | { isAuthenticated: false; environment: 'sandbox'; userInfo: null; reason: Reason };

/**
 * The fixture's answer when `token` is a sandbox fixture token presented to
 * the sandbox, else `undefined` (and the exchange goes on as usual).
 */
export function answerSandboxFixture(environment: Environment, token: string, productId: string | undefined, now: number): FixtureAnswer | undefined {
  if (environment !== 'sandbox' || !token.startsWith(SANDBOX_FIXTURE_PREFIX)) return undefined;
  const outcome = token.slice(SANDBOX_FIXTURE_PREFIX.length);
  if (!OUTCOMES.has(outcome)) return undefined;
  if ((SANDBOX_FIXTURE_REASONS as readonly string[]).includes(outcome)) {
    return { isAuthenticated: false, environment, userInfo: null, reason: outcome as Reason };
  }
  const withAccess = outcome === 'verified_with_access';
  const user = SANDBOX_FIXTURE_USER;
  const answer: FixtureAnswer = {
    isAuthenticated: true,
    environment,
    userInfo: {
      userId: user.userId,
      email: user.email,
      name: user.name,
      productAccess: withAccess ? [{ productId: productId ?? user.defaultProductId, expiresAt: null }] : [],
      attributes: {},
    },
    sessionId: user.sessionId,
    // As if minted now: a fixture never expires, a real token would in five minutes.
    tokenExpiresAt: iso((epochSeconds(now) + VERIFICATION_TOKEN_LIFETIME_SECONDS) * 1000),
  };
  if (productId !== undefined) answer.hasProductAccess = withAccess;
  return answer;
}
