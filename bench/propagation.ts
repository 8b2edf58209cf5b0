import { performance } from 'node:perf_hooks';
import { expectJson, requestJson } from './lib/http';

/**
 * Revocation to refusal between two gateway instances on one Redis: an API
 * key is revoked through A's admin API while B has it cached (B served an
 * exchange with it just before); the time from sending the revocation to B's
 * first refusal is the propagation delay (pub/sub invalidation of B's cache).
 * SPEC §5 bounds it at 1 s; test/e2e/two-processes.test.ts asserts the bound,
 * this reports the figure.
 */
export interface PropagationResult {
  readonly rounds: number;
  readonly medianMs: number;
  readonly p95Ms: number;
  readonly maxMs: number;
}

export interface PropagationSetup {
  /** Admin port of instance A (where the revocation is made). */
  readonly adminPortA: number;
  /** Live port of instance B (where the refusal is watched for). */
  readonly livePortB: number;
  readonly adminToken: string;
  readonly siteId: string;
  /** A verification token of a live session of `siteId`. */
  readonly token: string;
  readonly rounds?: number;
}

const EXCHANGE_PATH = '/live_api/s2s/v1/users/verification';

export async function measurePropagation(setup: PropagationSetup): Promise<PropagationResult> {
  const admin = { authorization: `Bearer ${setup.adminToken}` };
  const keysPath = `/admin/v1/live/sites/${setup.siteId}/api-keys`;
  const rounds = setup.rounds ?? 50;
  const delays: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const key = await expectJson(201, setup.adminPortA, 'POST', keysPath, admin, { name: `propagation-${round}` });
    const exchangeOnB = () =>
      requestJson(setup.livePortB, 'POST', EXCHANGE_PATH, { 'x-api-key': key.apiKey as string }, { userVerificationToken: setup.token });
    // B serves it once: from now on B answers from its cache.
    const first = await exchangeOnB();
    if (first.status !== 200) throw new Error(`propagation: B refused a fresh key: ${first.status} ${JSON.stringify(first.body)}`);
    const started = performance.now();
    await expectJson(204, setup.adminPortA, 'DELETE', `${keysPath}/${key.keyId as string}`, admin);
    for (;;) {
      const res = await exchangeOnB();
      if (res.status === 401) break;
      if (res.status !== 200) throw new Error(`propagation: B answered ${res.status} ${JSON.stringify(res.body)}`);
      if (performance.now() - started > 10_000) throw new Error('propagation: B still accepts a key revoked 10 s ago');
    }
    delays.push(performance.now() - started);
  }
  const sorted = [...delays].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
  return { rounds, medianMs: at(0.5), p95Ms: at(0.95), maxMs: sorted[sorted.length - 1] as number };
}
