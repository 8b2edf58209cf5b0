/**
 * An unknown `kid` (a rotation elsewhere whose news has not arrived, or
 * anyone's forged token) makes an instance reread the keyring at most once a
 * second, and never costs anyone the signatures already verified: a flood of
 * tokens with made-up kids, from any site, is answered from memory. Store
 * reads of the keyring are counted (test/support/gated-kv.ts), not timed, on
 * the embedded store, one Redis and (TEST_STORE=cluster) the cluster.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { createDomain, type Domain } from '../../src/domain';
import { FrozenClock } from '../../src/domain/clock';
import type { KvStore } from '../../src/store/kv';
import { MemoryBackend, MemoryKvStore } from '../../src/store/memory-kv';
import { createRecordStores, type RecordStores } from '../../src/store/records';
import { keys } from '../../src/store/records/keys';
import { RedisKvStore } from '../../src/store/redis-kv';
import { gatedKv } from '../support/gated-kv';
import { testRedisClusterNodes } from '../support/redis-cluster';
import { TEST_COMMAND_TIMEOUT_MS, testRedisUrl, uniquePrefix } from '../support/redis';

type Engine = [string, (namespace: string) => Promise<KvStore> | KvStore];
const backend = new MemoryBackend();
const clusterNodes = testRedisClusterNodes();
const engines: Engine[] = [
  ['embedded store', (namespace) => new MemoryKvStore({ namespace, shared: backend })],
  ['Redis', (namespace) => RedisKvStore.connect({ url: testRedisUrl(), namespace, commandTimeoutMs: TEST_COMMAND_TIMEOUT_MS })],
];
if (clusterNodes) engines.push(['Redis Cluster', (namespace) => RedisKvStore.connect({ clusterNodes, namespace, commandTimeoutMs: TEST_COMMAND_TIMEOUT_MS })]);

const attackerKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;

describe.each(engines)('unknown kids on the %s', (_name, makeKv) => {
  const clock = new FrozenClock(Date.now());
  const masterKey = randomBytes(32);
  let kv: KvStore;
  let gate: ReturnType<typeof gatedKv>;
  let records: RecordStores;
  let domain: Domain;

  beforeAll(async () => {
    kv = await makeKv(`${uniquePrefix()}:live:`);
    gate = gatedKv(kv);
    records = createRecordStores(gate.kv, { clock });
    await records.start();
    domain = createDomain({ environment: 'live', stores: records, masterKey, publicUrl: 'https://api.verigate.test', clock });
  });
  afterAll(async () => {
    await records.stop();
    await kv.close();
  });
  afterEach(() => jest.restoreAllMocks());

  /** A token shaped like ours, signed by someone else's key, under `kid`. */
  const forged = (kid: string, siteId: string) => {
    const now = Math.floor(clock.now() / 1000);
    return new SignJWT({ sid: 'sess_x', env: 'live' })
      .setProtectedHeader({ alg: 'ES256', typ: 'vg-verification+jwt', kid })
      .setIssuer('https://api.verigate.test')
      .setAudience(siteId)
      .setSubject('mallory')
      .setJti(randomBytes(8).toString('hex'))
      .setIssuedAt(now)
      .setExpirationTime(now + 300)
      .sign(attackerKey);
  };

  it('a flood of made-up kids from every site: one keyring read a second, and remembered signatures stay remembered', async () => {
    const sites = await Promise.all(['A', 'B', 'C'].map(async (name) => (await domain.sites.createSite({ name })).site.siteId));
    const siteId = sites[0] as string;
    await domain.users.upsertUser(siteId, 'ada', {});
    const { session } = await domain.sessions.createSession(siteId, 'ada');
    const good = (await domain.verificationTokens.issueVerificationToken(session)).token;
    expect((await domain.verificationTokens.verifyVerificationToken(good, siteId)).ok).toBe(true);

    const keyringReads = () => gate.reads(keys.signingKeys());
    const before = keyringReads();
    const flood = async (n: number) => {
      const tokens = await Promise.all(
        Array.from({ length: n }, (_, i) => forged(i % 4 === 3 ? `not-ours-${i}` : `live_${randomBytes(8).toString('hex')}`, sites[i % 3] as string)),
      );
      const checks = await Promise.all(tokens.map((t, i) => domain.verificationTokens.verifyVerificationToken(t, sites[i % 3] as string)));
      expect(checks.every((c) => !c.ok && c.reason === 'token_invalid')).toBe(true);
    };

    await flood(200);
    // The first made-up kid of our environment's shape rereads the keyring; every other one in that second is refused from memory.
    expect(keyringReads() - before).toBe(1);
    await flood(200);
    expect(keyringReads() - before).toBe(1);

    // The genuine token is still answered from memory: no signature check, no store read.
    const ecdsa = jest.spyOn(globalThis.crypto.subtle, 'verify');
    expect((await domain.verificationTokens.verifyVerificationToken(good, siteId)).ok).toBe(true);
    expect(ecdsa).not.toHaveBeenCalled();
    expect(keyringReads() - before).toBe(1);

    // A second later, one more reread (a real rotation elsewhere would be found within that second).
    clock.advance(1000);
    await flood(200);
    expect(keyringReads() - before).toBe(2);
    expect((await domain.verificationTokens.verifyVerificationToken(good, siteId)).ok).toBe(true);
    expect(ecdsa).not.toHaveBeenCalled();
  });
});
