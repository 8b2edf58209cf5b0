/**
 * The second process of the local-verification bench (bench/local.ts): a
 * customer backend with `verification: 'local'`, verifying the token it was
 * last given in a loop (yielding to I/O between calls, as a server does
 * between requests). Over IPC: `{ token }` starts watching a token; it
 * answers `{ ready }` once the token is answered from memory, then
 * `{ refusedAt }` (performance.timeOrigin + performance.now(), ms) at its
 * first refusal.
 */
import { performance } from 'node:perf_hooks';
import { createVerigateClient } from '@verigate/node';

const client = createVerigateClient({
  apiKey: process.env.BENCH_API_KEY as string,
  baseUrl: process.env.BENCH_BASE_URL as string,
  verification: 'local',
});
const now = (): number => performance.timeOrigin + performance.now();
const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
let watching: string | null = null;

process.on('message', (message: { token?: string; stop?: boolean }) => {
  if (message.stop) {
    void client.close().then(() => process.exit(0));
    return;
  }
  if (message.token) void watch(message.token);
});

async function watch(token: string): Promise<void> {
  watching = token;
  // Until this token is answered from memory: online first sight, then the stream must be fresh.
  for (;;) {
    const before = client.localStatus()?.localAnswers ?? 0;
    const result = await client.verifyUser(token);
    if (!result.isAuthenticated) throw new Error(`the token did not verify: ${JSON.stringify(result)}`);
    if ((client.localStatus()?.localAnswers ?? 0) > before) break;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  process.send?.({ ready: true });
  while (watching === token) {
    const result = await client.verifyUser(token);
    if (!result.isAuthenticated) {
      const at = now();
      watching = null;
      process.send?.({ refusedAt: at, reason: result.reason });
      return;
    }
    await tick();
  }
}
