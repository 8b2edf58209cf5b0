import crypto = require('node:crypto');
import { createDomain, type Domain } from '../../src/domain';
import { FrozenClock } from '../../src/domain/clock';
import type { SessionRecord } from '../../src/domain/sessions';
import { RETIRED_KEY_OVERLAP_MS } from '../../src/domain/signing-keys';
import { MemoryBackend, MemoryKvStore as MemoryStore } from '../../src/store/memory-kv';

// The exchange remembers verified signatures (src/domain/verification-tokens.ts).
// What must hold: a remembered token still has its claims checked on every
// exchange, is only served under the very key that verified it, and a
// different string (a tampered copy) is never served from memory.

let clock: FrozenClock;
let live: Domain;
let siteId: string;
let otherSiteId: string;
let session: SessionRecord;

beforeAll(async () => {
  clock = new FrozenClock();
  live = createDomain({
    environment: 'live',
    store: new MemoryStore({ namespace: 'vg:live:', shared: new MemoryBackend(), now: () => clock.now() }),
    masterKey: crypto.randomBytes(32),
    publicUrl: 'https://api.verigate.test',
    clock,
  });
  await live.start();
  siteId = (await live.sites.createSite({ name: 'Shop' })).site.siteId;
  otherSiteId = (await live.sites.createSite({ name: 'Other' })).site.siteId;
  await live.users.upsertUser(siteId, 'user-1', {});
  session = (await live.sessions.createSession(siteId, 'user-1')).session;
});
afterAll(() => live.stop());
afterEach(() => jest.restoreAllMocks());

const reasonOf = async (token: string, site = siteId): Promise<string> => {
  const check = await live.verificationTokens.verifyVerificationToken(token, site);
  return check.ok ? 'ok' : check.reason;
};
const issue = async (): Promise<string> => (await live.verificationTokens.issueVerificationToken(session)).token;

describe('remembered signatures', () => {
  it('a token is verified (ECDSA) once, then answered from memory', async () => {
    const token = await issue();
    const ecdsa = jest.spyOn(globalThis.crypto.subtle, 'verify');
    expect(await reasonOf(token)).toBe('ok');
    expect(await reasonOf(token)).toBe('ok');
    expect(await reasonOf(token)).toBe('ok');
    expect(ecdsa).toHaveBeenCalledTimes(1);
  });

  it('still checks the claims every time: expiry', async () => {
    const token = await issue();
    expect(await reasonOf(token)).toBe('ok');
    clock.advance(304_000);
    try {
      expect(await reasonOf(token)).toBe('ok'); // within the 5 s tolerance
      clock.advance(2_000);
      expect(await reasonOf(token)).toBe('token_expired');
    } finally {
      clock.advance(-306_000);
    }
  });

  it('still checks the claims every time: the site presenting it', async () => {
    const token = await issue();
    expect(await reasonOf(token)).toBe('ok');
    expect(await reasonOf(token, otherSiteId)).toBe('token_wrong_site');
    expect(await reasonOf(token)).toBe('ok');
  });

  it('never serves a different string: a tampered copy is checked in full', async () => {
    const token = await issue();
    expect(await reasonOf(token)).toBe('ok');
    const [h, p, s] = token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, sub: 'someone-else' })).toString('base64url')}.${s}`;
    const ecdsa = jest.spyOn(globalThis.crypto.subtle, 'verify');
    expect(await reasonOf(forged)).toBe('token_invalid');
    expect(ecdsa).toHaveBeenCalledTimes(1);
  });

  it('only under the key that verified it: a keyring reload means a fresh check, and a retired key is gone', async () => {
    const token = await issue();
    expect(await reasonOf(token)).toBe('ok');
    await live.signingKeys.rotateSigningKey();
    const ecdsa = jest.spyOn(globalThis.crypto.subtle, 'verify');
    // Within the overlap the old key still verifies; the reloaded keyring has new key objects, so it checks again.
    expect(await reasonOf(token)).toBe('ok');
    expect(ecdsa).toHaveBeenCalledTimes(1);
    clock.advance(RETIRED_KEY_OVERLAP_MS + 1000);
    try {
      // Expired by now as well, but the first thing that fails is the key: it is no longer ours.
      expect(await reasonOf(token)).toBe('token_invalid');
    } finally {
      clock.advance(-(RETIRED_KEY_OVERLAP_MS + 1000));
    }
  });

  it('does not remember failures: a token refused for its signature is refused again, in full', async () => {
    const token = await issue();
    const [h, p] = token.split('.') as [string, string, string];
    const unsigned = `${h}.${p}.${Buffer.alloc(64).toString('base64url')}`;
    const ecdsa = jest.spyOn(globalThis.crypto.subtle, 'verify');
    expect(await reasonOf(unsigned)).toBe('token_invalid');
    expect(await reasonOf(unsigned)).toBe('token_invalid');
    expect(ecdsa).toHaveBeenCalledTimes(2);
  });
});
