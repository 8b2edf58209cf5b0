import { performance } from 'node:perf_hooks';
import type request from 'supertest';
import { exchange, type TestGateway } from './gateway';

/** An exchange whose right answer is known. */
export type Expected =
  | { readonly apiKey: string; readonly token: string; readonly isAuthenticated: true; readonly userId: string }
  | { readonly apiKey: string; readonly token: string; readonly isAuthenticated: false; readonly reason: string };

/** What a run of exchanges through a failover saw. */
export interface FailoverRun {
  readonly answers: number;
  /** 503 store_unavailable answers. */
  readonly unavailable: number;
  /** Right 200 answers after the last 503. */
  readonly servedAfter: number;
  /** From the first 503 to the first right 200 after the last 503 (ms). */
  readonly windowMs: number;
  /** From the start of `act` (the kill) to the first right 200 after the last 503 (ms). */
  readonly killToServedMs: number;
  describe(): string;
}

/** Why `res` is not the right answer to `expected` nor a 503 store_unavailable; null when it is one of them. */
function wrongAnswer(res: request.Response, expected: Expected): string | null {
  if (res.status === 503) return res.body?.code === 'store_unavailable' ? null : `503 with code ${String(res.body?.code)}`;
  if (res.status !== 200) return `${res.status} ${JSON.stringify(res.body)}`;
  const body = res.body as { isAuthenticated?: boolean; reason?: string; userInfo?: { userId?: string } | null };
  if (body.isAuthenticated !== expected.isAuthenticated) return `isAuthenticated ${String(body.isAuthenticated)}: ${JSON.stringify(body)}`;
  if (expected.isAuthenticated && body.userInfo?.userId !== expected.userId) return `userId ${String(body.userInfo?.userId)}`;
  if (!expected.isAuthenticated && body.reason !== expected.reason) return `reason ${String(body.reason)}`;
  return null;
}

/**
 * Exchanges in a loop (two at a time, each of `expected` in turn) while
 * `act` runs (kills a master, waits for the promotion), and on until
 * `servedAfter` right answers in a row follow the last 503. Throws with
 * every wrong answer when there was any: during a failover an exchange is
 * right or 503 store_unavailable, nothing else.
 */
export async function runExchangesThrough(
  gw: TestGateway,
  expected: readonly Expected[],
  act: () => Promise<void>,
  { servedAfter = 50, timeoutMs = 60_000 }: { servedAfter?: number; timeoutMs?: number } = {},
): Promise<FailoverRun> {
  const wrong: string[] = [];
  let answers = 0;
  let unavailable = 0;
  let firstUnavailableAt: number | null = null;
  let lastUnavailableAt: number | null = null;
  let firstServedAfterLast: number | null = null;
  let rightInARow = 0;
  let acted = false;
  let actStartedAt = 0;
  const deadline = performance.now() + timeoutMs;
  let next = 0;

  const worker = async (): Promise<void> => {
    while (!(acted && rightInARow >= servedAfter) && performance.now() < deadline && wrong.length < 20) {
      const want = expected[next++ % expected.length] as Expected;
      const res = await exchange(gw, 'live', want.apiKey, { userVerificationToken: want.token });
      const at = performance.now();
      answers++;
      const problem = wrongAnswer(res, want);
      if (problem !== null) {
        wrong.push(`answer ${answers}: ${problem}`);
      } else if (res.status === 503) {
        unavailable++;
        firstUnavailableAt ??= at;
        lastUnavailableAt = at;
        firstServedAfterLast = null;
        rightInARow = 0;
      } else {
        firstServedAfterLast ??= at;
        rightInARow++;
      }
    }
  };

  const workers = [worker(), worker()];
  // A few right answers before the kill, so the run starts from a serving gateway.
  while (answers < 10 && performance.now() < deadline && wrong.length === 0) await new Promise((resolve) => setImmediate(resolve));
  actStartedAt = performance.now();
  rightInARow = 0;
  await act();
  acted = true;
  await Promise.all(workers);
  if (wrong.length > 0) throw new Error(`wrong answers during the failover:\n${wrong.join('\n')}`);
  if (!(rightInARow >= servedAfter)) {
    // What the live store's connection is doing, for whoever reads this failure.
    const status = (gw.stores.live as unknown as { client?: { status?: string } }).client?.status;
    throw new Error(`not serving again within ${timeoutMs} ms (${answers} answers, ${unavailable} 503; store connection ${String(status)})`);
  }

  const served = firstServedAfterLast ?? performance.now();
  const windowMs = firstUnavailableAt === null ? 0 : Math.round(served - firstUnavailableAt);
  const killToServedMs = Math.round(served - actStartedAt);
  return {
    answers,
    unavailable,
    servedAfter: rightInARow,
    windowMs,
    killToServedMs,
    describe: () =>
      `${answers} exchanges, ${unavailable} answered 503, none wrong; 503s for ${windowMs} ms, ` +
      `${killToServedMs} ms from the kill to serving again`,
  };
}
