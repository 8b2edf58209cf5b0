import crypto = require('node:crypto');
import type { Domain } from '../../src/domain';
import { FrozenClock } from '../../src/domain/clock';
import type { SessionRecord } from '../../src/domain/sessions';
import { RETIRED_KEY_OVERLAP_MS } from '../../src/domain/signing-keys';
import type { Gateway } from '../../src/gateway';
import { embeddedGateway } from '../support/embedded-gateway';

// The exchange remembers verified signatures (src/domain/verification-tokens.ts).
// What must hold: a remembered token still has its claims checked on every
// exchange, is only served under the very key that verified it, and a
// different string (a tampered copy) is never served from memory.

let clock: FrozenClock;
let gateway: Gateway;
let live: Domain;
let siteId: string;
let otherSiteId: string;
let session: SessionRecord;

beforeAll(async () => {
  clock = new FrozenClock();
  const embedded = embeddedGateway({ clock });
  gateway = embedded;
  live = embedded.domains.live;
  await gateway.start();
  siteId = (await live.sites.createSite({ name: 'Shop' })).site.siteId;
  otherSiteId = (await live.sites.createSite({ name: 'Other' })).site.siteId;
  await live.users.upsertUser(siteId, 'user-1', {});
  session = (await live.sessions.createSession(siteId, 'user-1')).session;
});
afterAll(() => gateway.close());
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

  it('a rotation keeps the old key (the same key object per kid): remembered within the overlap, gone once retired', async () => {
    const token = await issue();
    expect(await reasonOf(token)).toBe('ok');
    const before = (await live.signingKeys.keyring()).verificationKeys;
    await live.signingKeys.rotateSigningKey();
    const after = (await live.signingKeys.keyring()).verificationKeys;
    const kid = [...before.keys()].find((k) => after.has(k)) as string;
    expect(after.get(kid)?.key).toBe(before.get(kid)?.key);
    const ecdsa = jest.spyOn(globalThis.crypto.subtle, 'verify');
    // Within the overlap the old key still verifies, and it is the very key that verified the token: no new check.
    expect(await reasonOf(token)).toBe('ok');
    expect(ecdsa).toHaveBeenCalledTimes(0);
    clock.advance(RETIRED_KEY_OVERLAP_MS + 1000);
    try {
      // Expired by now as well, but the first thing that fails is the key: it is no longer ours.
      expect(await reasonOf(token)).toBe('token_invalid');
    } finally {
      clock.advance(-(RETIRED_KEY_OVERLAP_MS + 1000));
    }
  });

  it('only under the key that verified it: other key material under the same kid means a fresh check', async () => {
    const token = await issue();
    expect(await reasonOf(token)).toBe('ok');
    const keyring = gateway.records.live?.keyring;
    if (!keyring) throw new Error('no live keyring store');
    const original = await keyring.read({ fresh: true });
    if (!original) throw new Error('no keyring');
    const other = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
    const swapped = {
      ...original,
      keys: original.keys.map((k) => (k.kid === original.currentKid ? { ...k, publicJwk: other } : k)),
    };
    await keyring.update(() => swapped);
    try {
      const ecdsa = jest.spyOn(globalThis.crypto.subtle, 'verify');
      expect(await reasonOf(token)).toBe('token_invalid');
      expect(ecdsa).toHaveBeenCalledTimes(1);
    } finally {
      await keyring.update(() => original);
    }
    // The original material again: a new key object, so a fresh (and good) check.
    expect(await reasonOf(token)).toBe('ok');
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
