import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, type KeyObject, createSecretKey } from 'node:crypto';
import type { Environment } from './environments';

/**
 * Everything verigate keeps secret at rest goes through here. Keys are
 * derived from `VERIGATE_MASTER_KEY` with HKDF, one per purpose and
 * environment, so a hash or ciphertext from one context is useless in another.
 */
export type HashPurpose = 'api-key' | 'session-token' | 'admin-token' | 'console-session' | 'identity-token-use';

export class SecretBox {
  private readonly hashKeys: Record<HashPurpose, KeyObject>;
  private readonly encryptionKey: Buffer;

  constructor(
    masterKey: Buffer,
    readonly environment: Environment,
  ) {
    if (masterKey.length !== 32) throw new TypeError('master key must be 32 bytes');
    const derive = (info: string): Buffer =>
      Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), `verigate/${environment}/${info}`, 32));
    this.hashKeys = {
      'api-key': createSecretKey(derive('hash/api-key')),
      'session-token': createSecretKey(derive('hash/session-token')),
      'admin-token': createSecretKey(derive('hash/admin-token')),
      'console-session': createSecretKey(derive('hash/console-session')),
      'identity-token-use': createSecretKey(derive('hash/identity-token-use')),
    };
    this.encryptionKey = derive('encrypt');
  }

  /** Keyed hash (HMAC-SHA256, base64url) used to store and look up bearer secrets. */
  hash(purpose: HashPurpose, secret: string): string {
    return createHmac('sha256', this.hashKeys[purpose]).update(secret).digest('base64url');
  }

  /**
   * AES-256-GCM. `context` is bound as associated data, so a ciphertext moved
   * to another record or purpose fails to decrypt.
   */
  encrypt(plaintext: string, context: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.encryptionKey, iv);
    cipher.setAAD(Buffer.from(context));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return `v1.${iv.toString('base64url')}.${body.toString('base64url')}.${cipher.getAuthTag().toString('base64url')}`;
  }

  decrypt(sealed: string, context: string): string {
    const [version, iv, body, tag] = sealed.split('.');
    if (version !== 'v1' || !iv || body === undefined || !tag) throw new Error('sealed value has an unknown format');
    // Pin the tag length: otherwise GCM accepts a truncated tag (a prefix of the real one), down to 4 bytes.
    const decipher = createDecipheriv('aes-256-gcm', this.encryptionKey, Buffer.from(iv, 'base64url'), { authTagLength: 16 });
    decipher.setAAD(Buffer.from(context));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
  }
}
