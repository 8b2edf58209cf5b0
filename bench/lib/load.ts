import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { ROOT } from './paths';

/** One request of a plan: `r` expects 200 (with `expectBody`), `x` is an invalid API key and expects 401 (or 429). */
export interface PlanItem {
  readonly kind: 'r' | 'x';
  /** Value of the credential header (`credentialHeader`); empty for none. */
  readonly credential: string;
  readonly body: string;
}

export interface LoadSpec {
  readonly name: string;
  /** e.g. http://127.0.0.1:8080/live_api/s2s/v1/users/verification */
  readonly url: string;
  readonly credentialHeader: string;
  readonly contentType: string;
  /** Cycled through in order; each connection of each client thread takes its share. */
  readonly plan: readonly PlanItem[];
  /** A substring every 200 body must contain. */
  readonly expectBody?: string;
  readonly connections: number;
  readonly durationSeconds: number;
  /** Where the plan file goes (wrk). */
  readonly workDir: string;
}

export interface LoadResult {
  readonly requests: number;
  readonly seconds: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** 200 with the expected body (kind r). */
  readonly ok: number;
  /** Kind x answered 401 / 429. */
  readonly refused401: number;
  readonly refused429: number;
  /** Anything else: wrong status, wrong body, socket errors, timeouts. */
  readonly errors: number;
  readonly errorDetail: string;
  /** How often the plan was gone through again (must be 0 when every request needs a fresh token). */
  readonly wraps: number;
}

export interface LoadGenerator {
  readonly name: string;
  /** Client threads (wrk) or 1 (autocannon, in this process). */
  readonly threads: number;
  run(spec: LoadSpec): Promise<LoadResult>;
}

/** wrk when it is on PATH (lighter on the shared CPU), autocannon otherwise; BENCH_CLIENT=wrk|autocannon forces one. */
export function pickLoadGenerator(forced = process.env.BENCH_CLIENT): LoadGenerator {
  const hasWrk = spawnSync('wrk', ['--version'], { stdio: 'ignore' }).error === undefined;
  if (forced === 'autocannon' || (!hasWrk && forced !== 'wrk')) return autocannonGenerator();
  if (!hasWrk) throw new Error('BENCH_CLIENT=wrk but wrk is not on PATH (apt-get install wrk)');
  return wrkGenerator(Number(process.env.BENCH_WRK_THREADS ?? 1));
}

function wrkGenerator(threads: number): LoadGenerator {
  const script = join(ROOT, 'bench', 'wrk.lua');
  return {
    name: `wrk (${threads} thread${threads === 1 ? '' : 's'})`,
    threads,
    async run(spec) {
      const planFile = join(spec.workDir, `${spec.name}.plan`);
      writeFileSync(planFile, spec.plan.map((p) => `${p.kind}\t${p.credential}\t${p.body}\n`).join(''));
      const args = [
        `-t${threads}`,
        `-c${spec.connections}`,
        `-d${spec.durationSeconds}s`,
        '--timeout',
        '5s',
        '-s',
        script,
        spec.url,
        '--',
        planFile,
        String(threads),
        spec.credentialHeader,
        spec.contentType,
        spec.expectBody ?? '-',
      ];
      const out = await new Promise<string>((ok, fail) => {
        const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
        child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
        child.once('error', fail);
        child.once('close', (code) => (code === 0 ? ok(stdout) : fail(new Error(`wrk exited ${code}: ${stderr}`))));
      });
      const line = out.split('\n').find((l) => l.startsWith('BENCH-RESULT '));
      if (!line) throw new Error(`wrk printed no result:\n${out}`);
      const r = JSON.parse(line.slice('BENCH-RESULT '.length)) as Record<string, number | string>;
      const n = (k: string): number => Number(r[k]);
      const socketErrors = n('connectErrors') + n('readErrors') + n('writeErrors') + n('timeouts');
      const seconds = n('durationUs') / 1e6;
      const detail = [
        n('bad') ? `wrong status ${n('bad')} (${r.otherStatuses})` : '',
        n('bodyMismatch') ? `wrong body ${n('bodyMismatch')}` : '',
        socketErrors ? `socket errors/timeouts ${socketErrors}` : '',
      ].filter(Boolean);
      return {
        requests: n('requests'),
        seconds,
        rps: n('requests') / seconds,
        p50Ms: n('p50Us') / 1000,
        p99Ms: n('p99Us') / 1000,
        ok: n('ok'),
        refused401: n('s401'),
        refused429: n('s429'),
        errors: n('bad') + n('bodyMismatch') + socketErrors,
        errorDetail: detail.join('; '),
        wraps: n('wraps'),
      };
    },
  };
}

function autocannonGenerator(): LoadGenerator {
  return {
    name: 'autocannon (in the bench process)',
    threads: 1,
    async run(spec) {
      let next = 0;
      let wraps = 0;
      let ok = 0;
      let refused401 = 0;
      let refused429 = 0;
      let wrongStatus = 0;
      let wrongBody = 0;
      const statuses = new Map<number, number>();
      type Ctx = { kind?: 'r' | 'x' };
      const result = await autocannon({
        url: spec.url,
        connections: spec.connections,
        duration: spec.durationSeconds,
        timeout: 5,
        requests: [
          {
            method: 'POST',
            setupRequest: (req: autocannon.Request, context: Ctx) => {
              if (next >= spec.plan.length) {
                next = 0;
                wraps++;
              }
              const item = spec.plan[next++] as PlanItem;
              context.kind = item.kind;
              const headers: Record<string, string> = { 'content-type': spec.contentType };
              if (item.credential) headers[spec.credentialHeader.toLowerCase()] = item.credential;
              return { ...req, headers, body: item.body };
            },
            onResponse: (status: number, body: string, context: Ctx) => {
              if (context.kind === 'x' && (status === 401 || status === 429)) {
                if (status === 401) refused401++;
                else refused429++;
              } else if (context.kind === 'r' && status === 200) {
                if (spec.expectBody === undefined || body.includes(spec.expectBody)) ok++;
                else wrongBody++;
              } else {
                wrongStatus++;
                statuses.set(status, (statuses.get(status) ?? 0) + 1);
              }
            },
          },
        ],
      } as autocannon.Options);
      const socketErrors = result.errors + result.timeouts;
      const detail = [
        wrongStatus ? `wrong status ${wrongStatus} (${[...statuses].map(([s, c]) => `${s}:${c}`).join(',')})` : '',
        wrongBody ? `wrong body ${wrongBody}` : '',
        socketErrors ? `socket errors/timeouts ${socketErrors}` : '',
      ].filter(Boolean);
      const seconds = result.duration;
      return {
        requests: result.requests.total,
        seconds,
        rps: result.requests.total / seconds,
        p50Ms: result.latency.p50,
        p99Ms: result.latency.p99,
        ok,
        refused401,
        refused429,
        errors: wrongStatus + wrongBody + socketErrors,
        errorDetail: detail.join('; '),
        wraps,
      };
    },
  };
}
