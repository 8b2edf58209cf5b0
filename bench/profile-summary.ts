/**
 * Summarises a V8 `.cpuprofile` (from `node --cpu-prof`): self time by
 * function and by package, so "where does the time go" fits on a screen.
 * Usage: node bench/.build/bench/profile-summary.js <file.cpuprofile> [top] [last-seconds]
 * With last-seconds, only the end of the profile counts (with BENCH_ONLY=verigate
 * the last 10 s are the measured run; earlier samples are provisioning).
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [file, topArg, lastArg] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: profile-summary <file.cpuprofile> [top]\n');
  process.exit(2);
}
const top = Number(topArg ?? 40);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map<number, number>();
const span = profile.timeDeltas.reduce((a, b) => a + b, 0);
const from = lastArg === undefined ? 0 : span - Number(lastArg) * 1e6;
let clock = 0;
profile.samples.forEach((id, i) => {
  const delta = profile.timeDeltas[i] ?? 0;
  clock += delta;
  if (clock >= from) self.set(id, (self.get(id) ?? 0) + delta);
});
const total = [...self.values()].reduce((a, b) => a + b, 0);

/** Where a function lives: a package name, a file of ours, or node internals. */
function area(url: string): string {
  if (!url) return '(native / V8)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1] as string;
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`;
  const ours = /\/(dist|src)\/(.+)$/.exec(url);
  return ours ? `verigate ${ours[2]}` : url;
}

const fnTotals = new Map<string, number>();
const areaTotals = new Map<string, number>();
for (const [id, us] of self) {
  const node = byId.get(id);
  if (!node) continue;
  const { functionName, url, lineNumber } = node.callFrame;
  const key = `${functionName || '(anonymous)'}  ${area(url)}${url ? ` ${url.replace(/^.*\/(node_modules|dist)\//, '').replace(/^node:internal\//, 'internal/')}:${lineNumber + 1}` : ''}`;
  fnTotals.set(key, (fnTotals.get(key) ?? 0) + us);
  const a = functionName === '(idle)' || functionName === '(program)' || functionName === '(garbage collector)' ? functionName : area(url);
  areaTotals.set(a, (areaTotals.get(a) ?? 0) + us);
}
const pct = (us: number): string => `${((100 * us) / total).toFixed(1).padStart(5)} %`;
const print = (title: string, m: Map<string, number>): void => {
  process.stdout.write(`\n${title}\n`);
  for (const [k, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) process.stdout.write(`${pct(us)}  ${k}\n`);
};
process.stdout.write(`${file}: ${(total / 1e6).toFixed(1)} s sampled on the main thread\n`);
print('self time by area', areaTotals);
print('self time by function', fnTotals);
