import { RateLimiterRes } from 'rate-limiter-flexible';
import { StoreUnavailableError } from '../../src/domain/errors';
import { RedisKvStore as RedisStore } from '../../src/store/redis-kv';
import { RecordingListener } from '../support/recording-listener';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server';

/** Resolves with the rejection of `promise`; fails the test when it resolves. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
    },
    (err: unknown) => err,
  );
}

async function expectUnavailable(promise: Promise<unknown>): Promise<void> {
  const err = await rejection(promise);
  expect(err).toBeInstanceOf(StoreUnavailableError);
  expect((err as StoreUnavailableError).code).toBe('store_unavailable');
}

/** Polls `ping` until the store answers again (bounded). */
async function awaitRecovery(store: RedisStore): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    try {
      await store.ping();
      return;
    } catch (err) {
      expect(err).toBeInstanceOf(StoreUnavailableError);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('store did not recover');
}


describe('RedisStore when Redis fails', () => {
  let server: RedisServerHandle;
  let store: RedisStore;

  beforeAll(async () => {
    server = await startRedisServer();
    store = await RedisStore.connect({ url: server.url, namespace: 'faults:live:', commandTimeoutMs: 300 });
  });

  afterAll(async () => {
    server.thaw();
    await store.close();
    await server.stop();
  });

  it('a frozen Redis makes calls reject with StoreUnavailableError, and thawing it heals', async () => {
    await store.write([{ op: 'set', key: '{f}:k', value: 'before' }]);
    const limiter = store.rateLimiter({ keyPrefix: 'rl:frozen', points: 10, durationSeconds: 60 });
    server.freeze();
    try {
      await expectUnavailable(store.get('{f}:k'));
      await expectUnavailable(store.getMany(['{f}:k']));
      await expectUnavailable(store.write([{ op: 'set', key: '{f}:k', value: 'during' }]));
      await expectUnavailable(store.ping());
      // Fails closed: a store failure is not a pass, nor a RateLimiterRes.
      const err = await rejection(limiter.consume('k'));
      expect(err).not.toBeInstanceOf(RateLimiterRes);
      expect(err).toBeInstanceOf(StoreUnavailableError);
    } finally {
      server.thaw();
    }
    await awaitRecovery(store);
    await store.write([{ op: 'set', key: '{f}:k', value: 'after' }]);
    await expect(store.get('{f}:k')).resolves.toBe('after');
    await expect(limiter.consume('k2')).resolves.toMatchObject({ remainingPoints: 9 });
  });

  it('a killed Redis makes calls reject; the store and its subscription recover once Redis is back', async () => {
    const watcher = new RecordingListener();
    const subscription = await store.subscribe('invalidate', watcher);
    expect(watcher.resets).toBe(1);
    expect(subscription.active).toBe(true);

    await server.kill();
    await expectUnavailable(store.get('{f}:k'));
    await expectUnavailable(store.setIfAbsent('{f}:n', 'v'));
    await expectUnavailable(store.members('{f}:s'));
    await expectUnavailable(store.publish('invalidate', 'lost'));
    await expectUnavailable(store.ping());
    await expectUnavailable(store.subscribe('other', new RecordingListener()));
    const limiterErr = await rejection(
      store.rateLimiter({ keyPrefix: 'rl:dead', points: 10, durationSeconds: 60 }).consume('k'),
    );
    expect(limiterErr).toBeInstanceOf(StoreUnavailableError);

    await watcher.untilResets(2);
    expect(subscription.active).toBe(false);

    await server.restart();
    await awaitRecovery(store);
    await store.write([{ op: 'set', key: '{f}:k', value: 'reborn' }]);
    await expect(store.get('{f}:k')).resolves.toBe('reborn');

    // Resubscribed by the store itself: reset again, active again, delivering.
    await watcher.untilResets(3);
    expect(subscription.active).toBe(true);
    await store.publish('invalidate', 'after-restart');
    await watcher.untilMessage('after-restart');
    expect(watcher.messages).toEqual(['after-restart']);
    await subscription.close();
    expect(subscription.active).toBe(false);
  });
});
