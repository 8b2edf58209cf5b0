/**
 * The Sentinel client (src/store/redis-connections.ts) never gives up by
 * itself. ioredis' failover detector drops the connection when a sentinel
 * announces `+switch-master`; when that announcement arrives while the
 * client is asking a sentinel for the master (a reconnect already under
 * way), ioredis abandons that attempt with "Connection is closed." and the
 * client ends for good: every command afterwards is 503 until a restart.
 * This drives that sequence on purpose, with real processes: the sentinel
 * the client asks first is frozen while it reconnects, another sentinel
 * forces a failover, the announcement reaches the detector, the frozen
 * sentinel is thawed.
 */
import { randomBytes } from 'node:crypto';
import { createRedisSentinelClient, quit } from '../../src/store/redis-connections';
import { pollUntil } from '../support/poll';
import { startRedisSentinel, type RedisSentinelHandle } from '../support/redis-sentinel';

jest.setTimeout(60_000);

let group: RedisSentinelHandle;

beforeAll(async () => {
  group = await startRedisSentinel({ replicas: 1 });
});

afterAll(async () => {
  await group?.stop();
});

/** ioredis internals this test waits on (not asserted on): whether a connect attempt is still wanted. */
interface ConnectorView {
  connector: { connecting: boolean };
}

it('a failover announced while the client asks a sentinel for the master does not end the client', async () => {
  const oldMaster = await group.masterPort();
  const client = createRedisSentinelClient(
    { sentinels: group.sentinelPorts.map((port) => ({ host: '127.0.0.1', port })), name: group.name },
    // The frozen sentinel holds the reconnect's question until it is thawed.
    { overrides: { sentinelCommandTimeout: 50_000 } },
  );
  client.on('error', () => {});
  const subscribed = new Promise((resolve) => client.once('failoverSubscribed', resolve));
  try {
    await pollUntil(async () => client.status, (status) => status === 'ready', { what: 'the client to be ready' });
    await subscribed;
    const key = `reconnect:${randomBytes(6).toString('hex')}`;
    expect(await client.set(key, 'before')).toBe('OK');

    // The sentinel that answered first is asked first on the next connect.
    group.freezeSentinel(0);
    try {
      const localPort = client.stream.localPort as number;
      await group.nodes.find((n) => n.port === oldMaster)?.command('CLIENT', 'KILL', 'ADDR', `127.0.0.1:${localPort}`);
      await pollUntil(async () => client.status, (status) => status === 'connecting', { what: 'the client to reconnect' });
      // Forced by another sentinel, announced by it (and by the third).
      expect(await group.sentinelCommand(1, 'SENTINEL', 'FAILOVER', group.name)).toBe('OK');
      await pollUntil(
        async () => (client as unknown as ConnectorView).connector.connecting,
        (connecting) => !connecting,
        { timeoutMs: 30_000, what: 'the failover detector to drop the connect attempt' },
      );
    } finally {
      group.thawSentinel(0);
    }

    const written = await pollUntil(
      () => client.set(key, 'after'),
      (reply) => reply === 'OK',
      { timeoutMs: 30_000, intervalMs: 50, what: 'the client to serve again after the failover' },
    );
    expect(written).toBe('OK');
    expect(client.status).toBe('ready');
    // On the new master.
    expect(client.stream.remotePort).not.toBe(oldMaster);
    expect(await client.get(key)).toBe('after');
  } finally {
    await quit(client);
  }
});
