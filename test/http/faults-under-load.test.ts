import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adminClient, checked, exchange, startGateway, verificationTokenFor, type TestGateway } from '../support/gateway';
import { pollUntil } from '../support/poll';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server';

/**
 * Redis faults while exchanges are under way (a bounded number in flight):
 * killed, then restarted; frozen (SIGSTOP), then thawed. Whatever the
 * timing, every answer is a 200 with the truth or a 503 — never a 500, never
 * a guess — and a session ended just before the fault never verifies again.
 * (Single faults without load, and Redis down at start: redis-outage.test.ts.)
 *
 * The private redis-server keeps an append-only file (fsync on every write),
 * so a restart brings the data back, as a production Redis would; the ACL
 * users that a restart forgets are provisioned again by the test gateway
 * (test/support/redis-acl.ts), as an ACL file would.
 */

jest.setTimeout(120_000);

const CONCURRENCY = 8;
const MAX_REQUESTS = 3000;

type Phase = 'before' | 'killing' | 'down' | 'restarting' | 'recovered';

interface Outcome {
  readonly which: 'kept' | 'ended';
  /** When the request was sent… */
  readonly phase: Phase;
  /** …and when its answer came. */
  readonly endPhase?: Phase;
  /** Started after the sign-out of the `ended` session had completed. */
  readonly afterSignOut: boolean;
  readonly status?: number;
  readonly body?: Record<string, unknown>;
  readonly error?: string;
}

/**
 * Up to CONCURRENCY requests in flight, one after another, until stopped or
 * MAX_REQUESTS; tests await conditions on the outcomes as they arrive.
 */
class Load {
  readonly outcomes: Outcome[] = [];
  private started = 0;
  private stopped = false;
  private finished = false;
  private waiters: { ready: () => boolean; resolve: () => void; reject: (err: Error) => void }[] = [];
  readonly done: Promise<void>;

  constructor(send: (i: number) => Promise<Outcome>) {
    const worker = async (): Promise<void> => {
      while (!this.stopped && this.started < MAX_REQUESTS) {
        const outcome = await send(this.started++);
        this.outcomes.push(outcome);
        this.wake();
      }
    };
    this.done = Promise.all(Array.from({ length: CONCURRENCY }, worker)).then(() => {
      this.finished = true;
      this.wake();
    });
  }

  /** Resolves once `ready()` holds; rejects if the load ends first. */
  until(ready: () => boolean): Promise<void> {
    if (ready()) return Promise.resolve();
    if (this.finished) return Promise.reject(new Error('the load ended before the condition held'));
    return new Promise((resolve, reject) => this.waiters.push({ ready, resolve, reject }));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }

  private wake(): void {
    this.waiters = this.waiters.filter((w) => {
      if (w.ready()) w.resolve();
      else if (this.finished) w.reject(new Error(`the load ended (${this.outcomes.length} requests) before the condition held`));
      else return true;
      return false;
    });
  }
}

let server: RedisServerHandle;
let dataDir: string;
let gw: TestGateway;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'verigate-faults-'));
  server = await startRedisServer({ args: ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', dataDir] });
  gw = await startGateway({ redisUrl: server.url, redisOverrides: { commandTimeoutMs: 300 } });
});

afterAll(async () => {
  server?.thaw();
  await gw?.close();
  await server?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

async function provision() {
  const admin = adminClient(gw, 'live');
  const site = await admin.provisionSite();
  await admin.putUser(site.siteId, 'kept', { productAccess: [{ productId: 'pro', expiresAt: null }] });
  await admin.putUser(site.siteId, 'ended');
  const keptSession = await admin.createSession(site.siteId, 'kept');
  const endedSession = await admin.createSession(site.siteId, 'ended');
  return {
    apiKey: site.apiKey,
    endedSession,
    tokens: {
      kept: await verificationTokenFor(gw, 'live', keptSession),
      ended: await verificationTokenFor(gw, 'live', endedSession),
    },
  };
}

const readyz = async () => checked(await gw.http('live').get('/readyz'));

function expectTruthOrUnavailable(outcomes: readonly Outcome[]): void {
  for (const o of outcomes) {
    expect(o.error).toBeUndefined();
    expect([200, 503]).toContain(o.status);
    if (o.status === 503) expect(o.body?.code).toBe('store_unavailable');
    if (o.status === 200 && o.which === 'kept') expect(o.body?.isAuthenticated).toBe(true);
    if (o.which === 'ended' && o.afterSignOut && o.status === 200) {
      expect(o.body).toMatchObject({ isAuthenticated: false, reason: 'session_ended', userInfo: null });
    }
  }
}

it('Redis killed under load: 503s while it is gone, never a 500 nor a signed-out session verified; heals by itself', async () => {
  const data = await provision();
  let phase: Phase = 'before';
  let signedOut = false;
  const load = new Load(async (i) => {
    const which = i % 2 === 0 ? 'kept' : 'ended';
    const started = { which, phase, afterSignOut: signedOut } as const;
    try {
      const res = await exchange(gw, 'live', data.apiKey, { userVerificationToken: data.tokens[which], productId: 'pro' });
      return { ...started, endPhase: phase, status: res.status, body: res.body as Record<string, unknown> };
    } catch (err) {
      return { ...started, endPhase: phase, error: String(err) };
    }
  });
  const count = (ready: (o: Outcome) => boolean) => load.outcomes.filter(ready).length;

  try {
    await load.until(() => count((o) => o.status === 200) >= 40);
    // End a session right before the kill: its token must never verify again, whatever happens next.
    const out = checked(await gw.http('live').delete('/live_api/v1/session').set('Authorization', `Bearer ${data.endedSession}`));
    expect(out.status).toBe(204);
    signedOut = true;

    phase = 'killing';
    await server.kill();
    phase = 'down';
    const downStart = load.outcomes.length;
    await load.until(() => load.outcomes.slice(downStart).filter((o) => o.phase === 'down' && o.endPhase === 'down').length >= 60);

    phase = 'restarting';
    await server.restart();
    await pollUntil(readyz, (res) => res.status === 200, { timeoutMs: 20_000, intervalMs: 50, what: '/readyz to answer 200 after the restart' });
    phase = 'recovered';
    // Healed by itself: a run of verified exchanges of the kept session.
    let streak = 0;
    await load.until(() => {
      const last = load.outcomes[load.outcomes.length - 1];
      if (last?.phase === 'recovered' && last.which === 'kept') streak = last.status === 200 ? streak + 1 : 0;
      return streak >= 30;
    });
  } finally {
    await load.stop();
  }

  const outcomes = load.outcomes;
  expectTruthOrUnavailable(outcomes);
  // Sent and answered while the process was dead: every single one is a 503.
  const down = outcomes.filter((o) => o.phase === 'down' && o.endPhase === 'down');
  expect(down.length).toBeGreaterThanOrEqual(60);
  expect(down.map((o) => o.status)).toEqual(down.map(() => 503));
  // The ended session stayed ended across the outage and the restart.
  const endedAfterRecovery = outcomes.filter((o) => o.which === 'ended' && o.phase === 'recovered' && o.status === 200);
  expect(endedAfterRecovery.length).toBeGreaterThan(0);
  expect(outcomes.filter((o) => o.which === 'ended' && o.afterSignOut).some((o) => o.body?.isAuthenticated === true)).toBe(false);
  // And the load was real: verified answers before the kill and after the recovery.
  expect(count((o) => o.phase === 'before' && o.status === 200)).toBeGreaterThanOrEqual(40);
  expect(count((o) => o.phase === 'recovered' && o.status === 200 && o.which === 'kept')).toBeGreaterThanOrEqual(30);
  expect(outcomes.length).toBeLessThan(MAX_REQUESTS);
});

it('Redis frozen (SIGSTOP) for a burst: every exchange of the burst is a 503; thawed, 200s again', async () => {
  await pollUntil(readyz, (res) => res.status === 200, { timeoutMs: 20_000, intervalMs: 50, what: '/readyz to answer 200' });
  const data = await provision();
  const out = checked(await gw.http('live').delete('/live_api/v1/session').set('Authorization', `Bearer ${data.endedSession}`));
  expect(out.status).toBe(204);

  const burst = async (size: number): Promise<Outcome[]> => {
    const load = new Load(async (i) => {
      const which = i % 2 === 0 ? 'kept' : 'ended';
      const started = { which, phase: 'down', afterSignOut: true } as const;
      try {
        const res = await exchange(gw, 'live', data.apiKey, { userVerificationToken: data.tokens[which] });
        return { ...started, status: res.status, body: res.body as Record<string, unknown> };
      } catch (err) {
        return { ...started, error: String(err) };
      }
    });
    await load.until(() => load.outcomes.length >= size);
    await load.stop();
    return load.outcomes;
  };

  // Warm: the API key and the signing keys are in the gateway's caches (their
  // subscription stays up while Redis is frozen); the session read is not.
  const warm = await burst(CONCURRENCY);
  expect(warm.map((o) => o.status)).toEqual(warm.map(() => 200));

  server.freeze();
  let frozen: Outcome[];
  try {
    frozen = await burst(4 * CONCURRENCY);
    expect((await readyz()).status).toBe(503);
  } finally {
    server.thaw();
  }
  expect(frozen.map((o) => o.error)).toEqual(frozen.map(() => undefined));
  expect(frozen.map((o) => o.status)).toEqual(frozen.map(() => 503));

  await pollUntil(
    () => exchange(gw, 'live', data.apiKey, { userVerificationToken: data.tokens.kept }),
    (res) => res.status === 200,
    { timeoutMs: 20_000, intervalMs: 50, what: 'an exchange to answer 200 after the thaw' },
  );
  const thawed = await burst(4 * CONCURRENCY);
  expect(thawed.map((o) => o.status)).toEqual(thawed.map(() => 200));
  expectTruthOrUnavailable(thawed);
  expect(thawed.filter((o) => o.which === 'kept').every((o) => o.body?.isAuthenticated === true)).toBe(true);
  expect(thawed.filter((o) => o.which === 'ended').every((o) => o.body?.reason === 'session_ended')).toBe(true);
});
