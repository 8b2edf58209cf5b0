import { createHash, randomBytes } from 'node:crypto';
import { SecretBox } from '../../src/domain/secrets';

const master = randomBytes(32);
const live = new SecretBox(master, 'live');
const sandbox = new SecretBox(master, 'sandbox');

/** Rebuilds a sealed value `v1.<iv>.<body>.<tag>` with one part changed. */
function withPart(sealed: string, index: 1 | 2 | 3, change: (bytes: Buffer) => Buffer): string {
  const parts = sealed.split('.');
  parts[index] = change(Buffer.from(parts[index] as string, 'base64url')).toString('base64url');
  return parts.join('.');
}

const flipFirstBit = (b: Buffer): Buffer => {
  const copy = Buffer.from(b);
  copy[0] = (copy[0] as number) ^ 0x01;
  return copy;
};

describe('SecretBox', () => {
  it('refuses a master key that is not 32 bytes', () => {
    expect(() => new SecretBox(randomBytes(31), 'live')).toThrow(TypeError);
    expect(() => new SecretBox(randomBytes(33), 'live')).toThrow(TypeError);
  });

  describe('hash', () => {
    const secret = 'vg_live_sk_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZab';

    it('is deterministic (so it can be looked up) and does not contain the secret', () => {
      const h = live.hash('api-key', secret);
      expect(live.hash('api-key', secret)).toBe(h);
      expect(new SecretBox(master, 'live').hash('api-key', secret)).toBe(h);
      expect(h).toMatch(/^[A-Za-z0-9_-]{43}$/); // 32 bytes, base64url
      expect(h).not.toContain(secret.slice(11, 20));
    });

    it('differs per purpose', () => {
      expect(live.hash('api-key', secret)).not.toBe(live.hash('session-token', secret));
    });

    it('differs per environment', () => {
      expect(live.hash('api-key', secret)).not.toBe(sandbox.hash('api-key', secret));
      expect(live.hash('session-token', secret)).not.toBe(sandbox.hash('session-token', secret));
    });

    it('differs per master key, and is keyed (not a plain SHA-256)', () => {
      const other = new SecretBox(randomBytes(32), 'live');
      expect(other.hash('api-key', secret)).not.toBe(live.hash('api-key', secret));
      expect(live.hash('api-key', secret)).not.toBe(createHash('sha256').update(secret).digest('base64url'));
    });

    it('differs for secrets one character apart', () => {
      expect(live.hash('api-key', `${secret}x`)).not.toBe(live.hash('api-key', `${secret}y`));
    });
  });

  describe('encrypt / decrypt', () => {
    const plaintext = '-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n';

    it('round-trips, with a fresh IV each time, and hides the plaintext', () => {
      const a = live.encrypt(plaintext, 'signing-key:k1');
      const b = live.encrypt(plaintext, 'signing-key:k1');
      expect(a).toMatch(/^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
      expect(a).not.toBe(b);
      expect(a).not.toContain('PRIVATE KEY');
      expect(live.decrypt(a, 'signing-key:k1')).toBe(plaintext);
      expect(live.decrypt(b, 'signing-key:k1')).toBe(plaintext);
      expect(live.decrypt(live.encrypt('', 'c'), 'c')).toBe('');
      expect(live.decrypt(live.encrypt('Zoë 🙂', 'c'), 'c')).toBe('Zoë 🙂');
    });

    it('fails with another context (a ciphertext moved to another record)', () => {
      const sealed = live.encrypt('secret', 'identity-secret:site_a');
      expect(() => live.decrypt(sealed, 'identity-secret:site_b')).toThrow();
      expect(() => live.decrypt(sealed, 'signing-key:site_a')).toThrow();
      expect(() => live.decrypt(sealed, '')).toThrow();
    });

    it('fails in the other environment, or under another master key', () => {
      const sealed = live.encrypt('secret', 'ctx');
      expect(() => sandbox.decrypt(sealed, 'ctx')).toThrow();
      expect(() => new SecretBox(randomBytes(32), 'live').decrypt(sealed, 'ctx')).toThrow();
    });

    it('fails when any part is tampered with', () => {
      const sealed = live.encrypt('the identity secret', 'ctx');
      expect(() => live.decrypt(withPart(sealed, 1, flipFirstBit), 'ctx')).toThrow(); // IV
      expect(() => live.decrypt(withPart(sealed, 2, flipFirstBit), 'ctx')).toThrow(); // ciphertext
      expect(() => live.decrypt(withPart(sealed, 3, flipFirstBit), 'ctx')).toThrow(); // tag
      expect(() => live.decrypt(withPart(sealed, 2, (b) => b.subarray(0, b.length - 1)), 'ctx')).toThrow();
      expect(() => live.decrypt(withPart(sealed, 2, (b) => Buffer.concat([b, Buffer.from([0])])), 'ctx')).toThrow();
    });

    it('fails when the tag is truncated (a short GCM tag is only a prefix of the real one)', () => {
      const sealed = live.encrypt('the identity secret', 'ctx');
      for (const length of [4, 8, 12, 15]) {
        expect(() => live.decrypt(withPart(sealed, 3, (b) => b.subarray(0, length)), 'ctx')).toThrow();
      }
    });

    it.each(['', 'v1', 'v1.a.b', 'v2.aaaa.bbbb.cccc', 'v1..b.c', 'v1.a.b.'])('refuses the malformed sealed value %p', (value) => {
      expect(() => live.decrypt(value, 'ctx')).toThrow();
    });
  });
});
