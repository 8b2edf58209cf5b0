/**
 * `npm run bench`: verigate's exchange against Node, Express, a minimal
 * reference exchange and oidc-provider's introspection, in one run, on this
 * machine. Not part of the test suite. See docs/performance.md.
 *
 * Knobs (environment): BENCH_DURATION (seconds measured per row, default and
 * minimum 10), BENCH_WARMUP (seconds, default 3), BENCH_CLIENT (wrk |
 * autocannon), BENCH_WRK_THREADS (default 1), BENCH_ONLY (comma-separated row
 * ids: node, express, reference, oidc, verigate, fresh, mixed, propagation, local — for working
 * on one lever; the full table needs every row; `none` for none), BENCH_USERS
 * (default 10000), BENCH_AB (comma-separated project roots, each with a
 * built dist/, optionally followed by #node-flag#node-flag: their exchange is
 * measured round by round, interleaved —
 * BENCH_AB_ROUNDS, BENCH_AB_WORKLOAD=cycle|fresh), BENCH_CPU_PROF (a directory:
 * verigate runs with --cpu-prof and writes its profile there on exit;
 * summarise it with `node bench/.build/bench/profile-summary.js <file>`),
 * BENCH_NODE_FLAGS (extra node flags for verigate, e.g. --trace-gc), BENCH_KEEP
 * (keep the work directory: plans, verigate's log), BENCH_ROUNDS (measure every
 * row that many times, round by round, and report each row's median round:
 * the ratios of a shared, drifting machine).
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import Redis from 'ioredis';
import { SignJWT } from 'jose';
import { generateCredential } from '../src/domain/credentials';
import { closeConnections, expectJson, mapBounded } from './lib/http';
import { pickLoadGenerator, type LoadResult, type LoadSpec, type PlanItem } from './lib/load';
import { ROOT } from './lib/paths';
import { cpuMicros, cpuTime, freePort, isAlive, startProcess, stopAll, waitForPort, type Server } from './lib/proc';
import { startRedis } from './lib/redis-server';
import { measurePropagation, type PropagationResult } from './propagation';
import { openEventStreams } from './event-streams';
import { measureLocal, type LocalResult } from './local';

const CONNECTIONS = 32;
const DURATION = Math.max(10, Number(process.env.BENCH_DURATION ?? 10));
const WARMUP = Math.max(1, Number(process.env.BENCH_WARMUP ?? 3));
const USERS = Number(process.env.BENCH_USERS ?? 10_000);
/** Every row is measured this many times, round by round; the table shows each row's median round. */
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 1));
/** Event streams held open in the `streams` row (BENCH_STREAMS). */
const STREAMS = Number(process.env.BENCH_STREAMS ?? 1000);
const PROVISION_CONCURRENCY = 32;
const EXCHANGE_PATH = '/live_api/s2s/v1/users/verification';
const ONLY = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(',')) : null;
const wanted = (id: string): boolean => ONLY === null || ONLY.has(id);

interface Row {
  readonly id: string;
  readonly label: string;
  readonly result: LoadResult;
  /** Server process CPU (all threads, children included) per request, µs. */
  readonly cpuUsPerRequest: number;
  /** redis-server CPU per request, µs (null: the row does not use Redis). */
  readonly redisUsPerRequest: number | null;
  /** The part of the server's CPU spent in the kernel (system time). */
  readonly kernelShare: number;
  /** The machine's 1-minute load average right after the row (other processes share the cores). */
  readonly loadAverage: number;
  readonly note: string;
}

const log = (message: string): void => {
  process.stderr.write(`[bench] ${message}\n`);
};

async function main(): Promise<number> {
  const client = pickLoadGenerator();
  const workDir = mkdtempSync(join(tmpdir(), 'verigate-bench-'));
  const started = Date.now();
  const rows: Row[] = [];
  const problems: string[] = [];
  log(`client: ${client.name}; ${CONNECTIONS} connections; ${WARMUP} s warm-up + ${DURATION} s measured per row; work dir ${workDir}`);

  const redis = await startRedis();
  log(`redis-server ${redis.version} at ${redis.url}`);
  const redisClient = new Redis(redis.url);

  /** Warm up, then measure one row with the server's and Redis's CPU time around the measured part only. */
  const measure = async (
    id: string,
    label: string,
    server: Server,
    spec: Omit<LoadSpec, 'durationSeconds' | 'workDir' | 'connections' | 'name'>,
    options: { usesRedis: boolean; note?: string; warmupPlan?: readonly PlanItem[] },
  ): Promise<LoadResult> => {
    const base = { ...spec, connections: CONNECTIONS, workDir };
    const warm = await client.run({ ...base, name: `${id}-warmup`, plan: options.warmupPlan ?? spec.plan, durationSeconds: WARMUP });
    if (warm.errors > 0) problems.push(`${label} (warm-up): ${warm.errorDetail}`);
    const cpu0 = cpuTime(server.pid);
    const redis0 = cpuMicros(redis.server.pid);
    const result = await client.run({ ...base, name: id, durationSeconds: DURATION });
    const cpu1 = cpuTime(server.pid);
    const cpu = cpu1.user + cpu1.system - cpu0.user - cpu0.system;
    const kernelShare = cpu > 0 ? (cpu1.system - cpu0.system) / cpu : 0;
    const redisCpu = cpuMicros(redis.server.pid) - redis0;
    if (!isAlive(server)) problems.push(`${label}: the server died during the run`);
    if (result.errors > 0) problems.push(`${label}: ${result.errorDetail}`);
    rows.push({
      id,
      label,
      result,
      cpuUsPerRequest: cpu / result.requests,
      redisUsPerRequest: options.usesRedis ? redisCpu / result.requests : null,
      kernelShare,
      loadAverage: loadavg()[0] ?? 0,
      note: options.note ?? '',
    });
    log(`${label}: ${Math.round(result.rps)} req/s, p50 ${result.p50Ms.toFixed(2)} ms, p99 ${result.p99Ms.toFixed(2)} ms, ${(cpu / result.requests).toFixed(0)} µs CPU/req (${Math.round(kernelShare * 100)} % kernel), load ${(loadavg()[0] ?? 0).toFixed(2)}${result.errors ? `, ERRORS: ${result.errorDetail}` : ''}`);
    return result;
  };

  // --- verigate, exactly as in production -----------------------------------------------------
  const adminToken = randomBytes(32).toString('base64url');
  const masterKey = randomBytes(32).toString('base64');
  /** A verigate process from `root` (its dist/main.js); instances share Redis and keys, like a deployment. */
  const startVerigate = async (
    name: string,
    root: string,
    flags: readonly string[] = [],
  ): Promise<{ server: Server; livePort: number; adminPort: number; logFile: string }> => {
    const livePort = await freePort();
    const adminPort = await freePort();
    const logFile = join(workDir, `${name}.log`);
    const server = startProcess(
      name,
      process.execPath,
      [
        ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : []),
        ...(process.env.BENCH_NODE_FLAGS ? process.env.BENCH_NODE_FLAGS.split(' ') : []),
        ...flags,
        join(root, 'dist', 'main.js'),
      ],
      {
        PATH: process.env.PATH,
        NODE_ENV: 'production',
        REDIS_URL: redis.url,
        VERIGATE_MASTER_KEY: masterKey,
        VERIGATE_ADMIN_TOKEN: adminToken,
        LOG_LEVEL: 'info',
        LIVE_PORT: String(livePort),
        // One issuer for every instance, as behind a load balancer: a token from one verifies on all.
        LIVE_PUBLIC_URL: 'https://api.verigate.bench',
        SANDBOX_PORT: 'off',
        ADMIN_PORT: String(adminPort),
        // One process, like every other row (WORKERS>1 would fork one per core).
        WORKERS: '1',
        // The bench mints its verification tokens from one address: the browser-session limit
        // (600 a minute per address by default) is for visitors, not for provisioning a load test.
        RATE_LIMIT_SESSION_PER_ADDRESS: '100000000',
      },
      logFile,
    );
    await waitForPort(livePort, 20_000, () => isAlive(server));
    await waitForPort(adminPort, 20_000, () => isAlive(server));
    return { server, livePort, adminPort, logFile };
  };
  const main = await startVerigate('verigate', ROOT);
  const { livePort, adminPort, server: verigate, logFile: verigateLog } = main;

  const admin = { authorization: `Bearer ${adminToken}` };
  const adminPath = '/admin/v1/live';
  const site = await expectJson(201, adminPort, 'POST', `${adminPath}/sites`, admin, { name: 'bench' });
  const siteId = site.siteId as string;
  const madeKeys: string[] = [];
  const newApiKey = async (name: string): Promise<string> => {
    const key = (await expectJson(201, adminPort, 'POST', `${adminPath}/sites/${siteId}/api-keys`, admin, { name })).apiKey as string;
    madeKeys.push(key);
    return key;
  };
  // The rows make their own keys (one per row and round), so the per-key limit never trips in a bench.
  const apiKeys = { shape: await newApiKey('bench-shape'), prime: await newApiKey('bench-prime') };

  let t = Date.now();
  const sessionTokens = await mapBounded(USERS, PROVISION_CONCURRENCY, async (i) => {
    const userId = `user-${i}`;
    await expectJson(201, adminPort, 'PUT', `${adminPath}/sites/${siteId}/users/${userId}`, admin, {
      email: `user${i}@example.com`,
      name: `User ${i}`,
      attributes: { plan: i % 3 === 0 ? 'pro' : 'free', seats: i % 50 },
      productAccess: [{ productId: 'reports', expiresAt: null }],
    });
    const session = await expectJson(201, adminPort, 'POST', `${adminPath}/sites/${siteId}/users/${userId}/sessions`, admin, {});
    return session.sessionToken as string;
  });
  log(`provisioned 1 site, 2 API keys, ${USERS} users with sessions in ${((Date.now() - t) / 1000).toFixed(1)} s`);

  /** `count` verification tokens through the browser endpoint, round-robin over the sessions. */
  const issueTokens = async (count: number, offset = 0): Promise<string[]> => {
    const t0 = Date.now();
    const tokens = await mapBounded(count, PROVISION_CONCURRENCY, async (i) => {
      const st = sessionTokens[(offset + i) % USERS] as string;
      const res = await expectJson(200, livePort, 'POST', '/live_api/v1/users/verification-token', { authorization: `Bearer ${st}` });
      return res.userVerificationToken as string;
    });
    log(`issued ${count} verification tokens in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return tokens;
  };
  /** The requests of a row, round-robin over `apiKeys` (the per-key limit counts each key on its own). */
  const exchangePlan = (tokens: readonly string[], apiKeys: string | readonly string[]): PlanItem[] => {
    const keys = typeof apiKeys === 'string' ? [apiKeys] : apiKeys;
    return tokens.map((token, i) => ({ kind: 'r', credential: keys[i % keys.length] as string, body: JSON.stringify({ userVerificationToken: token }) }));
  };
  /**
   * Keys for one row: the exchange limit is 200,000 a minute per key and instance
   * (RATE_LIMIT_EXCHANGE_PER_API_KEY), which one row (warm-up and measured part) must never reach, as
   * one customer backend would not: four keys leave room up to about 60,000 requests a second.
   */
  const rowKeys = async (name: string): Promise<string[]> =>
    Promise.all(Array.from({ length: 4 }, (_, i) => newApiKey(`${name}-${i}`)));

  // --- the baselines ----------------------------------------------------------------------------
  // The same request as the exchange (its headers and a body of the same size); the bare servers ignore it.
  const sampleTokens = await issueTokens(100);
  const shapePlan = exchangePlan(sampleTokens, apiKeys.shape);
  const jsonSpec = { credentialHeader: 'X-API-KEY', contentType: 'application/json' };

  const startBaseline = async (name: string, file: string, env: NodeJS.ProcessEnv = {}): Promise<{ server: Server; port: number }> => {
    const port = await freePort();
    const server = startProcess(name, process.execPath, [file], { PATH: process.env.PATH, NODE_ENV: 'production', PORT: String(port), ...env });
    await waitForPort(port, 20_000, () => isAlive(server));
    return { server, port };
  };
  const build = join(ROOT, 'bench', '.build', 'bench');

  // --- verigate's exchange ----------------------------------------------------------------------
  const verigateUrl = `http://127.0.0.1:${livePort}${EXCHANGE_PATH}`;
  const verified = '"isAuthenticated":true';
  let cycleTokens: string[] = [];
  let cycleTokensIssuedAt = 0;
  /**
   * The cycled workload's tokens, each exchanged once already (steady state: a page asks for one and
   * uses it for a few requests; what a first sight costs is the fresh row). Reissued when a row could
   * outlive them (a token lives 300 s; a run of several rounds takes longer).
   */
  const freshCycleTokens = async (): Promise<string[]> => {
    if (cycleTokens.length > 0 && Date.now() - cycleTokensIssuedAt < 200_000) return cycleTokens;
    cycleTokensIssuedAt = Date.now();
    cycleTokens = await issueTokens(USERS);
    const t0 = Date.now();
    await mapBounded(cycleTokens.length, PROVISION_CONCURRENCY, async (i) => {
      const res = await expectJson(200, livePort, 'POST', EXCHANGE_PATH, { 'x-api-key': apiKeys.prime }, { userVerificationToken: cycleTokens[i] });
      if (res.isAuthenticated !== true) throw new Error(`priming: token ${i} did not verify: ${JSON.stringify(res)}`);
    });
    log(`exchanged each of the ${cycleTokens.length} tokens once in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return cycleTokens;
  };
  const measureNode = async (): Promise<void> => {
    const { server, port } = await startBaseline('node-bare', join(build, 'node-bare.js'));
    await measure('node', 'node http, bare (constant JSON)', server, { ...jsonSpec, url: `http://127.0.0.1:${port}${EXCHANGE_PATH}`, plan: shapePlan }, { usesRedis: false });
    await server.stop();
  };
  const measureExpress = async (): Promise<void> => {
    const { server, port } = await startBaseline('express-bare', join(build, 'express-bare.js'));
    await measure('express', 'Express 5 + express.json(), bare', server, { ...jsonSpec, url: `http://127.0.0.1:${port}${EXCHANGE_PATH}`, plan: shapePlan }, { usesRedis: false });
    await server.stop();
  };
  // The reference's own ES256 key, tokens of verigate's shape, users as Redis hashes (made once).
  const referenceSetup = async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const issuer = 'http://localhost:8080';
    const refSite = `site_${randomBytes(12).toString('hex')}`;
    const refKey = generateCredential('live', 'sk');
    const now = Math.floor(Date.now() / 1000);
    const refTokens: string[] = [];
    const pipeline = redisClient.pipeline();
    for (let i = 0; i < USERS; i++) {
      pipeline.hset(`ref:user:user-${i}`, { userId: `user-${i}`, email: `user${i}@example.com`, name: `User ${i}`, plan: 'pro' });
      refTokens.push(
        await new SignJWT({ sid: `sess_${randomBytes(12).toString('hex')}`, env: 'live' })
          .setProtectedHeader({ alg: 'ES256', typ: 'vg-verification+jwt', kid: 'live_reference' })
          .setIssuer(issuer)
          .setAudience(refSite)
          .setSubject(`user-${i}`)
          .setJti(randomBytes(16).toString('base64url'))
          .setIssuedAt(now)
          .setExpirationTime(now + 300)
          .sign(privateKey),
      );
    }
    await pipeline.exec();
    return { publicKey, issuer, refSite, refKey, refTokens };
  };
  let reference: (Awaited<ReturnType<typeof referenceSetup>> & { madeAt: number }) | undefined;
  const measureReference = async (): Promise<void> => {
    // Its tokens live 300 s, like verigate's: made again before a row could outlive them.
    if (reference === undefined || Date.now() - reference.madeAt > 200_000) reference = { ...(await referenceSetup()), madeAt: Date.now() };
    const { publicKey, issuer, refSite, refKey, refTokens } = reference;
    const { server, port } = await startBaseline('reference', join(build, 'reference.js'), {
      REDIS_URL: redis.url,
      REF_PUBLIC_JWK: JSON.stringify(publicKey.export({ format: 'jwk' })),
      REF_API_KEYS: JSON.stringify({ [refKey]: refSite }),
      REF_ISSUER: issuer,
    });
    await measure(
      'reference',
      'reference: Express + Map + jose ES256 + HGETALL',
      server,
      { ...jsonSpec, url: `http://127.0.0.1:${port}${EXCHANGE_PATH}`, plan: exchangePlan(refTokens, refKey), expectBody: '"isAuthenticated":true' },
      { usesRedis: true },
    );
    await server.stop();
  };
  const measureOidc = async (): Promise<void> => {
    const port = await freePort();
    const server = startProcess('oidc-provider', process.execPath, [join(ROOT, 'bench', 'oidc-introspection.mjs')], {
      PATH: process.env.PATH,
      NODE_ENV: 'production',
      PORT: String(port),
    });
    const deadline = Date.now() + 20_000;
    let ready: { token: string; authorization: string } | undefined;
    while (!ready) {
      const line = server.output().split('\n').find((l) => l.startsWith('BENCH-READY '));
      if (line) ready = JSON.parse(line.slice('BENCH-READY '.length)) as { token: string; authorization: string };
      else if (!isAlive(server) || Date.now() > deadline) throw new Error('oidc-provider did not start');
      else await new Promise((r) => setTimeout(r, 50));
    }
    const body = `token=${ready.token}&token_type_hint=access_token`;
    await measure(
      'oidc',
      'oidc-provider 9 introspection (memory adapter)',
      server,
      {
        url: `http://127.0.0.1:${port}/token/introspection`,
        credentialHeader: 'Authorization',
        contentType: 'application/x-www-form-urlencoded',
        plan: [{ kind: 'r', credential: ready.authorization, body }],
        expectBody: '"active":true',
      },
      { usesRedis: false, note: 'opaque token; client_secret_basic' },
    );
    await server.stop();
  };
  const measureVerigate = async (): Promise<void> => {
    // A key per row: the per-key exchange limit (per instance, per minute) must not trip across rounds.
    const key = await rowKeys('bench-cycle');
    const tokens = await freshCycleTokens();
    await measure(
      'verigate',
      `verigate exchange (${USERS.toLocaleString('en-US')} tokens, cycled)`,
      verigate,
      { ...jsonSpec, url: verigateUrl, plan: exchangePlan(tokens, key), expectBody: verified },
      { usesRedis: true },
    );
  };
  /** The exchange again, with 1,000 event streams (SPEC §11) open on the same instance the whole time. */
  const measureWithStreams = async (): Promise<void> => {
    const key = await rowKeys('bench-streams');
    const streamKey = await newApiKey('bench-stream-reader');
    const streams = await openEventStreams(livePort, streamKey, STREAMS);
    try {
      const tokens = await freshCycleTokens();
      const bytesBefore = streams.bytes();
      const t0 = Date.now();
      await measure(
        'streams',
        `verigate exchange, ${STREAMS.toLocaleString('en-US')} event streams open`,
        verigate,
        { ...jsonSpec, url: verigateUrl, plan: exchangePlan(tokens, key), expectBody: verified },
        { usesRedis: true },
      );
      const seconds = (Date.now() - t0) / 1000;
      rows[rows.length - 1] = {
        ...(rows[rows.length - 1] as Row),
        note: `${streams.open()} streams open throughout; ${Math.round((streams.bytes() - bytesBefore) / seconds / 1024)} KiB/s of heartbeats read`,
      };
    } finally {
      streams.close();
    }
  };
  const measureFresh = async (): Promise<void> => {
    const freshKey = await rowKeys('bench-fresh');
    // Every request a token never presented before: no cache can help. Sized from a warm-up on tokens of its own.
    const ceiling = [...rows].reverse().find((r) => r.id === 'verigate')?.result.rps ?? 8000;
    const warmTokens = await issueTokens(Math.ceil(ceiling * WARMUP * 1.2), 0);
    const warm = await client.run({ ...jsonSpec, name: 'fresh-sizing', url: verigateUrl, plan: exchangePlan(warmTokens, freshKey), expectBody: verified, connections: CONNECTIONS, durationSeconds: WARMUP, workDir });
    if (warm.errors > 0) problems.push(`verigate fresh (sizing run): ${warm.errorDetail}`);
    // A warm process answers faster than the sizing run did: twice its rate leaves room.
    const freshTokens = await issueTokens(Math.ceil(warm.rps * DURATION * 2) + 2000, warmTokens.length);
    const shortWarmup = await issueTokens(Math.ceil(warm.rps * 1.2) + 200, warmTokens.length + freshTokens.length);
    const result = await measure(
      'fresh',
      'verigate exchange, a fresh token every request',
      verigate,
      { ...jsonSpec, url: verigateUrl, plan: exchangePlan(freshTokens, freshKey), expectBody: verified },
      { usesRedis: true, warmupPlan: exchangePlan(shortWarmup, freshKey) },
    );
    if (result.wraps > 0) problems.push('verigate fresh: ran out of fresh tokens (some were presented twice)');
  };
  const measureMixed = async (): Promise<void> => {
    const mixedKeys = await rowKeys('bench-mixed');
    const tokens = await freshCycleTokens();
    const unknownKeys = Array.from({ length: 500 }, () => generateCredential('live', 'sk'));
    const plan: PlanItem[] = tokens.map((token, i) =>
      i % 5 === 4
        ? { kind: 'x', credential: unknownKeys[i % unknownKeys.length] as string, body: JSON.stringify({ userVerificationToken: token }) }
        : { kind: 'r', credential: mixedKeys[i % mixedKeys.length] as string, body: JSON.stringify({ userVerificationToken: token }) },
    );
    const result = await measure(
      'mixed',
      'verigate exchange, 20 % unknown API keys',
      verigate,
      { ...jsonSpec, url: verigateUrl, plan, expectBody: verified },
      { usesRedis: true },
    );
    rows[rows.length - 1] = {
      ...(rows[rows.length - 1] as Row),
      note: `unknown keys answered 401: ${result.refused401}, 429 (failed-key limit per address): ${result.refused429}`,
    };
  };

  // Every row, ROUNDS times in turn: on a shared machine the load drifts, and rows measured side by side
  // in each round keep the ratios honest. The table shows each row's median round (by req/s).
  const plan: [string, () => Promise<void>][] = [
    ['node', measureNode],
    ['express', measureExpress],
    ['reference', measureReference],
    ['oidc', measureOidc],
    ['verigate', measureVerigate],
    ['streams', measureWithStreams],
    ['fresh', measureFresh],
    ['mixed', measureMixed],
  ];
  for (let round = 1; round <= ROUNDS; round++) {
    if (ROUNDS > 1) log(`round ${round} of ${ROUNDS}`);
    for (const [id, run] of plan) if (wanted(id)) await run();
  }

  if (process.env.BENCH_AB) {
    // Lever A/B: the same workload on verigate builds from other roots, interleaved round by round so that
    // drifting load on a shared machine hits every build alike. Compare CPU/req first: it drifts least.
    const roots = process.env.BENCH_AB.split(',');
    const rounds = Number(process.env.BENCH_AB_ROUNDS ?? 3);
    const fresh = process.env.BENCH_AB_WORKLOAD === 'fresh';
    const instances = [];
    for (const [i, entry] of roots.entries()) {
      const [root, ...flags] = entry.split('#');
      instances.push({ root: entry, ...(await startVerigate(`ab-${i}`, root as string, flags)) });
    }
    let freshOffset = USERS;
    const abRows: { root: string; cpu: number; rps: number; p99: number }[] = [];
    for (let round = 0; round < rounds; round++) {
      for (const [i, inst] of instances.entries()) {
        // A key per measured run: the per-key exchange limit (per instance, per minute) must not trip across rounds.
        const roundKey = await rowKeys(`bench-ab-${round}-${i}`);
        let plan = fresh ? [] : exchangePlan(await freshCycleTokens(), roundKey);
        let warmupPlan: PlanItem[] | undefined;
        if (fresh) {
          const perRun = Math.ceil(Number(process.env.BENCH_AB_FRESH_RPS ?? 3000) * (DURATION + WARMUP) * 1.3);
          const issued = await issueTokens(perRun, freshOffset);
          freshOffset += perRun;
          warmupPlan = exchangePlan(issued.slice(0, Math.ceil(perRun * 0.25)), roundKey);
          plan = exchangePlan(issued.slice(Math.ceil(perRun * 0.25)), roundKey);
        }
        const result = await measure(`ab-${i}-${round}`, `A/B ${inst.root} (round ${round + 1})`, inst.server, { ...jsonSpec, url: `http://127.0.0.1:${inst.livePort}${EXCHANGE_PATH}`, plan, expectBody: verified }, { usesRedis: true, ...(warmupPlan && { warmupPlan }) });
        if (fresh && result.wraps > 0) problems.push(`A/B ${inst.root}: ran out of fresh tokens (raise BENCH_AB_FRESH_RPS)`);
        const row = rows[rows.length - 1] as Row;
        abRows.push({ root: inst.root, cpu: row.cpuUsPerRequest, rps: result.rps, p99: result.p99Ms });
      }
    }
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
    for (const inst of instances) {
      const mine = abRows.filter((r) => r.root === inst.root);
      log(`A/B median of ${rounds} (${fresh ? 'fresh' : 'cycled'} tokens): ${inst.root}: ${Math.round(median(mine.map((r) => r.rps)))} req/s, ${median(mine.map((r) => r.cpu)).toFixed(0)} µs CPU/req, p99 ${median(mine.map((r) => r.p99)).toFixed(1)} ms`);
      await inst.server.stop();
    }
  }
  // --- revocation propagation between two instances ---------------------------------------------
  let propagation: PropagationResult | null = null;
  if (wanted('propagation')) {
    const second = await startVerigate('verigate-b', ROOT);
    try {
      propagation = await measurePropagation({ adminPortA: adminPort, livePortB: second.livePort, adminToken, siteId, token: sampleTokens[0] as string });
      log(`revocation → refusal on another instance: median ${propagation.medianMs.toFixed(1)} ms, p95 ${propagation.p95Ms.toFixed(1)} ms, max ${propagation.maxMs.toFixed(1)} ms over ${propagation.rounds} API key revocations`);
      if (propagation.maxMs >= 1000) problems.push(`revocation propagation: ${propagation.maxMs.toFixed(0)} ms, past the SPEC's 1 s`);
    } finally {
      await second.server.stop();
    }
  }

  // --- local verification (SPEC §12): in-process answers and sign-out to local refusal ------------
  let local: LocalResult | null = null;
  if (wanted('local')) {
    local = await measureLocal({
      livePort,
      adminPort,
      adminToken,
      siteId,
      apiKey: await newApiKey('bench-local'),
      sessionTokens,
      durationSeconds: DURATION,
      log,
    });
    const online = [...rows].reverse().find((r) => r.id === 'verigate')?.result.rps ?? local.onlineSdkPerSecond;
    if (local.localKnownPerSecond < 20 * online) problems.push(`local verification: ${(local.localKnownPerSecond / online).toFixed(1)}× the online exchange on known sessions (target 20×)`);
    if (local.revocation.p99Ms > 250) problems.push(`local verification: sign-out → local refusal p99 ${local.revocation.p99Ms.toFixed(0)} ms (target 250 ms)`);
  }

  // --- shut down, then check the log holds no secret ---------------------------------------------
  closeConnections();
  await verigate.stop();
  await redisClient.quit();
  await redis.server.stop();
  const logText = readFileSync(verigateLog, 'utf8');
  const secrets = [...madeKeys, ...sessionTokens.slice(0, 200), ...cycleTokens.slice(0, 200), ...sampleTokens];
  const leaked = secrets.filter((s) => s && logText.includes(s)).length;
  if (leaked > 0) problems.push(`${leaked} secrets (API keys, session or verification tokens) found in verigate's log`);
  const logLines = logText.split('\n').filter(Boolean).length;

  // --- report ------------------------------------------------------------------------------------
  const report = buildReport(rows, {
    client: client.name,
    clientThreads: client.threads,
    cores: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    node: process.version,
    redis: redis.version,
    commit: gitDescribe(),
    date: new Date(started).toISOString(),
    seconds: Math.round((Date.now() - started) / 1000),
    logLines,
    leaked,
    problems,
    propagation,
    local,
  });
  // Only a full run is the table; a run of some rows (BENCH_ONLY, BENCH_AB) goes beside it.
  const name = ONLY === null && !process.env.BENCH_AB && USERS === 10_000 ? 'latest' : 'partial-latest';
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench', 'results', `${name}.md`), report.markdown);
  writeFileSync(join(ROOT, 'bench', 'results', `${name}.json`), `${JSON.stringify(report.json, null, 2)}\n`);
  process.stdout.write(`\n${report.markdown}\n`);
  if (process.env.BENCH_KEEP) log(`kept ${workDir}`);
  else rmSync(workDir, { recursive: true, force: true });
  return problems.length > 0 ? 1 : 0;
}

function gitDescribe(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).toString().trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT }).toString().trim() !== '';
    return dirty ? `${head} + uncommitted src changes` : head;
  } catch {
    return 'unknown';
  }
}

interface Meta {
  client: string;
  clientThreads: number;
  cores: number;
  cpuModel: string;
  node: string;
  redis: string;
  commit: string;
  date: string;
  seconds: number;
  logLines: number;
  leaked: number;
  problems: string[];
  propagation: PropagationResult | null;
  local: LocalResult | null;
}

/** Each row id's median round (by req/s), in the order the rows were first measured. */
function medianRows(all: readonly Row[]): Row[] {
  const ids = [...new Set(all.map((r) => r.id))];
  return ids.map((id) => {
    const mine = all.filter((r) => r.id === id).sort((a, b) => a.result.rps - b.result.rps);
    return mine[Math.floor((mine.length - 1) / 2)] as Row;
  });
}

/** verigate's ratios to its peers in each round (the spread the medians hide). */
function roundRatios(all: readonly Row[]): string[] {
  const byRound: Row[][] = [];
  let round: Row[] = [];
  for (const r of all) {
    if (round.some((x) => x.id === r.id)) {
      byRound.push(round);
      round = [];
    }
    round.push(r);
  }
  if (round.length) byRound.push(round);
  return byRound.map((rs, i) => {
    const get = (id: string) => rs.find((r) => r.id === id);
    const v = get('verigate');
    const part = (label: string, a: number | undefined, b: number | undefined) => (a && b ? `${label} ${(a / b).toFixed(2)}×` : null);
    const fresh = get('fresh');
    const parts = [
      part('vs oidc-provider', v?.result.rps, get('oidc')?.result.rps),
      part('vs node bare', v?.result.rps, get('node')?.result.rps),
      part('p99 vs Express bare', v?.result.p99Ms, get('express')?.result.p99Ms),
      part('fresh vs reference', fresh?.result.rps, get('reference')?.result.rps),
    ].filter((x) => x !== null);
    const loads = rs.map((r) => r.loadAverage);
    return `round ${i + 1}: ${parts.join(', ')} (load average ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)})`;
  });
}

function buildReport(allRows: readonly Row[], meta: Meta): { markdown: string; json: unknown } {
  const rows = medianRows(allRows);
  const rounds = roundRatios(allRows);
  const base = rows.find((r) => r.id === 'verigate');
  const ratio = (a: number, b: number | undefined): string => (b ? `${(a / b).toFixed(2)}×` : '–');
  const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
  const header =
    '| server / workload | req/s | p50 ms | p99 ms | server CPU µs/req | of which kernel | Redis CPU µs/req | req/s vs verigate | CPU/req vs verigate | load avg | responses |\n' +
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |';
  const lines = rows.map((r) => {
    const responses = r.result.errors > 0 ? `**${r.result.errors} wrong**: ${r.result.errorDetail}` : `all as expected${r.note ? ` (${r.note})` : ''}`;
    return `| ${r.label} | ${fmt(r.result.rps)} | ${fmt(r.result.p50Ms, 2)} | ${fmt(r.result.p99Ms, 2)} | ${fmt(r.cpuUsPerRequest)} | ${Math.round(r.kernelShare * 100)} % | ${r.redisUsPerRequest === null ? '–' : fmt(r.redisUsPerRequest)} | ${ratio(r.result.rps, base?.result.rps)} | ${ratio(r.cpuUsPerRequest, base?.cpuUsPerRequest)} | ${r.loadAverage.toFixed(2)} | ${responses} |`;
  });
  const get = (id: string): Row | undefined => rows.find((r) => r.id === id);
  const targets: { name: string; met: boolean | null; detail: string }[] = [];
  const target = (name: string, other: Row | undefined, met: (b: Row, o: Row) => boolean, detail: (b: Row, o: Row) => string): void => {
    if (!base || !other) targets.push({ name, met: null, detail: 'not measured in this run' });
    else targets.push({ name, met: met(base, other), detail: detail(base, other) });
  };
  // The targets of issue 10 (docs/performance.md): cycled tokens unless said otherwise.
  target('req/s ≥ 2.0× oidc-provider introspection', get('oidc'), (b, o) => b.result.rps >= 2 * o.result.rps, (b, o) => `${(b.result.rps / o.result.rps).toFixed(2)}×`);
  target('req/s ≥ 0.30× node http bare', get('node'), (b, o) => b.result.rps >= 0.3 * o.result.rps, (b, o) => `${(b.result.rps / o.result.rps).toFixed(2)}×`);
  target('p99 ≤ 1.0× Express bare’s', get('express'), (b, o) => b.result.p99Ms <= o.result.p99Ms, (b, o) => `${(b.result.p99Ms / o.result.p99Ms).toFixed(2)}×`);
  const fresh = get('fresh');
  const reference = get('reference');
  if (!fresh || !reference) targets.push({ name: 'fresh token: req/s ≥ 1.5× the reference', met: null, detail: 'not measured in this run' });
  else
    targets.push({
      name: 'fresh token: req/s ≥ 1.5× the reference',
      met: fresh.result.rps >= 1.5 * reference.result.rps,
      detail: `${(fresh.result.rps / reference.result.rps).toFixed(2)}×`,
    });
  target('server CPU/req ≤ the reference’s', reference, (b, o) => b.cpuUsPerRequest <= o.cpuUsPerRequest, (b, o) => `${fmt(b.cpuUsPerRequest)} vs ${fmt(o.cpuUsPerRequest)} µs`);

  const markdown = [
    `### verigate exchange benchmark — ${meta.date}`,
    '',
    header,
    ...lines,
    '',
    `Targets: ${targets.map((t) => `${t.name}: ${t.met === null ? 'n/a' : t.met ? 'met' : 'NOT met'} (${t.detail})`).join('; ')}.`,
    '',
    ...(rounds.length > 1 ? [`Medians of ${rounds.length} rounds (each row's median round by req/s). verigate (cycled) by round: ${rounds.join('; ')}.`, ''] : []),
    `Setup: ${meta.cores} cores (${meta.cpuModel}) shared by the load generator and the server under test — every row pays the client's CPU alike, so compare ratios, not absolute numbers. ` +
      `Client ${meta.client}, ${CONNECTIONS} connections, ${WARMUP} s warm-up then ${DURATION} s measured per row, 127.0.0.1 only. ` +
      `Node ${meta.node}, redis-server ${meta.redis} (private, unpersisted), verigate ${meta.commit} as \`node dist/main.js\` with Redis, LOG_LEVEL=info, metrics and rate limits on, WORKERS=1. ` +
      `CPU is user+system time of the server process (all its threads) from /proc around the measured part, divided by the requests answered; Redis's own CPU is its column. ` +
      `oidc-provider keeps its tokens in its in-process memory adapter (no network hop); the reference and verigate read Redis. ` +
      `verigate wrote ${meta.logLines} log lines during the run; ${meta.leaked === 0 ? 'none held' : `${meta.leaked} held`} an API key, a session token or a verification token. The run took ${meta.seconds} s.`,
    '',
    meta.propagation
      ? `Revocation → refusal on a second instance (API key revoked through A while B has it cached, B polled until it refuses; SPEC bound 1 s): median ${meta.propagation.medianMs.toFixed(1)} ms, p95 ${meta.propagation.p95Ms.toFixed(1)} ms, max ${meta.propagation.maxMs.toFixed(1)} ms over ${meta.propagation.rounds} revocations.`
      : 'Revocation propagation: not measured in this run.',
    '',
    localSummary(meta.local, base),
    '',
    meta.problems.length ? `**Problems:**\n${meta.problems.map((p) => `- ${p}`).join('\n')}` : 'Every response was the expected one.',
    '',
  ].join('\n');
  const json = {
    date: meta.date,
    commit: meta.commit,
    setup: { cores: meta.cores, cpuModel: meta.cpuModel, node: meta.node, redis: meta.redis, client: meta.client, clientThreads: meta.clientThreads, connections: CONNECTIONS, warmupSeconds: WARMUP, durationSeconds: DURATION },
    rows: rows.map((r) => ({
      id: r.id,
      label: r.label,
      requests: r.result.requests,
      seconds: r.result.seconds,
      rps: Math.round(r.result.rps),
      p50Ms: r.result.p50Ms,
      p99Ms: r.result.p99Ms,
      cpuUsPerRequest: Math.round(r.cpuUsPerRequest * 10) / 10,
      kernelShare: Math.round(r.kernelShare * 1000) / 1000,
      loadAverage: Math.round(r.loadAverage * 100) / 100,
      redisCpuUsPerRequest: r.redisUsPerRequest === null ? null : Math.round(r.redisUsPerRequest * 10) / 10,
      rpsVsVerigate: base ? r.result.rps / base.result.rps : null,
      cpuVsVerigate: base ? r.cpuUsPerRequest / base.cpuUsPerRequest : null,
      ok: r.result.ok,
      refused401: r.result.refused401,
      refused429: r.result.refused429,
      errors: r.result.errors,
      errorDetail: r.result.errorDetail,
      note: r.note,
    })),
    targets,
    propagation: meta.propagation,
    local: meta.local,
    rounds,
    allRows: allRows.map((r) => ({ id: r.id, rps: Math.round(r.result.rps), p99Ms: r.result.p99Ms, cpuUsPerRequest: Math.round(r.cpuUsPerRequest), loadAverage: r.loadAverage })),
    logLines: meta.logLines,
    problems: meta.problems,
  };
  return { markdown, json };
}

/** The local-verification paragraph: in-process rates beside the online exchange's, and sign-out to local refusal. */
function localSummary(local: LocalResult | null, online: Row | undefined): string {
  if (local === null) return 'Local verification: not measured in this run.';
  const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
  const vsGateway = online ? `, ${(local.localKnownPerSecond / online.result.rps).toFixed(1)}× the gateway's cycled exchange row (${fmt(online.result.rps)} req/s under wrk)` : '';
  return (
    `Local verification (\`verification: 'local'\`, one process, one event loop, every answer checked): ${fmt(local.localKnownPerSecond)} verifications/s on ${fmt(local.knownSessions)} known sessions ` +
    `(${(local.localKnownPerSecond / local.onlineSdkPerSecond).toFixed(0)}× the online exchange through the same SDK, ${fmt(local.onlineSdkPerSecond)}/s with 32 in flight${vsGateway}; target 20×); ` +
    `${fmt(local.localFreshPerSecond)}/s on ${fmt(local.freshTokens)} fresh tokens of those sessions (one ECDSA check each). ` +
    `Sign-out (admin API) → first local refusal in a second process verifying in a loop: median ${local.revocation.medianMs.toFixed(1)} ms, p99 ${local.revocation.p99Ms.toFixed(1)} ms, max ${local.revocation.maxMs.toFixed(1)} ms over ${local.revocation.rounds} sign-outs (target p99 ≤ 250 ms; SPEC bound 1 s).`
  );
}

main()
  .then(async (code) => {
    await stopAll();
    process.exit(code);
  })
  .catch(async (err: unknown) => {
    process.stderr.write(`[bench] failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    await stopAll();
    process.exit(2);
  });

process.once('SIGINT', () => void stopAll().then(() => process.exit(130)));
process.once('SIGTERM', () => void stopAll().then(() => process.exit(143)));
