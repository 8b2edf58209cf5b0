import { randomBytes } from 'node:crypto';

/** The Redis every test file may use (set by global-setup.ts). */
export function testRedisUrl(): string {
  const url = process.env.TEST_REDIS_URL;
  if (!url) throw new Error('TEST_REDIS_URL is not set: run the tests through jest (test/support/global-setup.ts sets it)');
  return url;
}

/** A random key prefix like `t1a2b3c4`, so test files sharing one Redis never collide. */
export function uniquePrefix(): string {
  return `t${randomBytes(4).toString('hex')}`;
}

/**
 * The command timeout of stores that tests open for what they store, not for
 * how they time out: the 1 s default, counted from when a command is queued,
 * ran out under a loaded machine (load average 10–15 on 2 cores) behind the
 * contract's heavier tests' pipelines. Tests about timeouts set their own.
 */
export const TEST_COMMAND_TIMEOUT_MS = 10_000;
