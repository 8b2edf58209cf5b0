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
