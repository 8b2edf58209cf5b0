import { fork } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createVerigateClient, type VerigateClient } from '@verigate/node';
import { expectJson, mapBounded } from './lib/http';

/**
 * Local verification (SPEC §12, `verification: 'local'` of @verigate/node),
 * side by side with the online exchange in the same run:
 * - verifications a second in this one process (one core, one event loop)
 *   on known sessions (tokens seen before: no ECDSA check, no I/O), on
 *   fresh tokens of known sessions (one ECDSA check each), and the online
 *   exchange through the same SDK (32 calls in flight);
 * - revocation to local refusal: a session is signed out through the
 *   admin API while a second process (bench/local-verifier-loop.ts)
 *   verifies its token locally in a loop; the delay from sending the
 *   sign-out to its first refusal, over `rounds` sign-outs.
 */
export interface LocalSetup {
  readonly livePort: number;
  readonly adminPort: number;
  readonly adminToken: string;
  readonly siteId: string;
  readonly apiKey: string;
  /** Session tokens of live sessions of `siteId` (user `user-<i>` has `sessionTokens[i]`). */
  readonly sessionTokens: readonly string[];
  readonly durationSeconds: number;
  readonly rounds?: number;
  readonly log: (message: string) => void;
}

export interface LocalResult {
  readonly knownSessions: number;
  readonly localKnownPerSecond: number;
  readonly localFreshPerSecond: number;
  readonly freshTokens: number;
  readonly onlineSdkPerSecond: number;
  readonly revocation: { readonly rounds: number; readonly medianMs: number; readonly p99Ms: number; readonly maxMs: number };
}

const IN_FLIGHT = 32;
/** Local answers resolve without I/O: a loop of them must let the event loop read the stream now and then, as a server does. */
const YIELD_EVERY = 2000;
const yieldToIo = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function until(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`local bench: timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export async function measureLocal(setup: LocalSetup): Promise<LocalResult> {
  const baseUrl = `http://127.0.0.1:${setup.livePort}`;
  const known = Math.min(1000, setup.sessionTokens.length);
  /** `count` verification tokens, round-robin over the first `known` sessions. */
  const mint = async (count: number): Promise<string[]> =>
    mapBounded(count, 32, async (i) => {
      const st = setup.sessionTokens[i % known] as string;
      return (await expectJson(200, setup.livePort, 'POST', '/live_api/v1/users/verification-token', { authorization: `Bearer ${st}` }))
        .userVerificationToken as string;
    });
  const tokens = await mint(known);
  const local = createVerigateClient({ apiKey: setup.apiKey, baseUrl, verification: 'local', maxCachedSessions: 10_000 });
  const online = createVerigateClient({ apiKey: setup.apiKey, baseUrl });
  try {
    await until(() => local.localStatus()?.fresh === true, 'the event stream');
    // First sight of each session: online, remembered.
    for (const token of tokens) await local.verifyUser(token);
    const primed = local.localStatus();
    if (!primed || primed.cachedSessions < known) throw new Error(`local bench: ${primed?.cachedSessions} of ${known} sessions remembered`);

    const localKnownPerSecond = await loop(local, tokens, setup.durationSeconds);
    // Fresh tokens of the same sessions: each one ECDSA check, then memory.
    const freshTokens = await mint(40_000);
    const t0 = performance.now();
    const before = local.localStatus()?.localAnswers ?? 0;
    for (let i = 0; i < freshTokens.length; i++) {
      const r = await local.verifyUser(freshTokens[i] as string);
      if (!r.isAuthenticated) throw new Error(`local bench: a fresh token did not verify: ${JSON.stringify(r)}`);
      if (i % YIELD_EVERY === 0) await yieldToIo();
    }
    const localFreshPerSecond = freshTokens.length / ((performance.now() - t0) / 1000);
    const answeredLocally = (local.localStatus()?.localAnswers ?? 0) - before;
    if (answeredLocally < freshTokens.length * 0.99) throw new Error(`local bench: only ${answeredLocally} of ${freshTokens.length} fresh tokens answered locally`);

    const onlineSdkPerSecond = await onlineLoop(online, tokens, setup.durationSeconds);
    setup.log(
      `local verification: ${Math.round(localKnownPerSecond)}/s on ${known} known sessions, ${Math.round(localFreshPerSecond)}/s on fresh tokens of them; ` +
        `online through the SDK (${IN_FLIGHT} in flight): ${Math.round(onlineSdkPerSecond)}/s`,
    );
    const revocation = await measureRevocation(setup, baseUrl);
    setup.log(`sign-out → local refusal in another process: median ${revocation.medianMs.toFixed(1)} ms, p99 ${revocation.p99Ms.toFixed(1)} ms, max ${revocation.maxMs.toFixed(1)} ms over ${revocation.rounds} sign-outs`);
    return { knownSessions: known, localKnownPerSecond, localFreshPerSecond, freshTokens: freshTokens.length, onlineSdkPerSecond, revocation };
  } finally {
    await local.close();
  }
}

/** Local verifications a second, cycling over `tokens` for `seconds`, every answer checked. */
async function loop(client: VerigateClient, tokens: readonly string[], seconds: number): Promise<number> {
  const before = client.localStatus()?.localAnswers ?? 0;
  const end = performance.now() + seconds * 1000;
  let n = 0;
  const t0 = performance.now();
  while (performance.now() < end) {
    for (let i = 0; i < YIELD_EVERY; i++) {
      const r = await client.verifyUser(tokens[n++ % tokens.length] as string);
      if (!r.isAuthenticated) throw new Error(`local bench: a known token did not verify: ${JSON.stringify(r)}`);
    }
    await yieldToIo();
  }
  const rate = n / ((performance.now() - t0) / 1000);
  const local = (client.localStatus()?.localAnswers ?? 0) - before;
  if (local < n * 0.99) throw new Error(`local bench: only ${local} of ${n} answered locally (the stream went stale?)`);
  return rate;
}

async function onlineLoop(client: VerigateClient, tokens: readonly string[], seconds: number): Promise<number> {
  const end = performance.now() + seconds * 1000;
  let n = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (performance.now() < end) {
        const r = await client.verifyUser(tokens[n++ % tokens.length] as string);
        if (!r.isAuthenticated) throw new Error(`local bench: online, a known token did not verify: ${JSON.stringify(r)}`);
      }
    }),
  );
  return n / ((performance.now() - t0) / 1000);
}

async function measureRevocation(setup: LocalSetup, baseUrl: string): Promise<LocalResult['revocation']> {
  const rounds = setup.rounds ?? 100;
  const admin = { authorization: `Bearer ${setup.adminToken}` };
  const child = fork(join(__dirname, 'local-verifier-loop.js'), [], {
    env: { PATH: process.env.PATH, BENCH_API_KEY: setup.apiKey, BENCH_BASE_URL: baseUrl },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const next = (): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`local bench: the verifier process exited (${code})`));
      child.once('exit', onExit);
      child.once('message', (m) => {
        child.off('exit', onExit);
        resolve(m as Record<string, unknown>);
      });
    });
  const delays: number[] = [];
  try {
    for (let round = 0; round < rounds; round++) {
      const userId = `local-revocation-${round}`;
      await expectJson(201, setup.adminPort, 'PUT', `/admin/v1/live/sites/${setup.siteId}/users/${userId}`, admin, { name: 'Signed out soon' });
      const session = await expectJson(201, setup.adminPort, 'POST', `/admin/v1/live/sites/${setup.siteId}/users/${userId}/sessions`, admin, {});
      const token = (await expectJson(200, setup.livePort, 'POST', '/live_api/v1/users/verification-token', { authorization: `Bearer ${session.sessionToken as string}` }))
        .userVerificationToken as string;
      const ready = next();
      child.send({ token });
      await ready;
      const refused = next();
      const sentAt = performance.timeOrigin + performance.now();
      await expectJson(204, setup.adminPort, 'DELETE', `/admin/v1/live/sites/${setup.siteId}/users/${userId}/sessions`, admin);
      const answer = await refused;
      if (answer.reason !== 'session_ended') throw new Error(`local bench: refused with ${String(answer.reason)}`);
      delays.push((answer.refusedAt as number) - sentAt);
    }
  } finally {
    child.send({ stop: true });
    await new Promise((resolve) => child.once('exit', resolve));
  }
  const sorted = [...delays].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] as number;
  return { rounds, medianMs: at(0.5), p99Ms: at(0.99), maxMs: sorted[sorted.length - 1] as number };
}
