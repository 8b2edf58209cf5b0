import { crc32 } from 'node:zlib';
import {
  checksum,
  generateCredential,
  generateIdentitySecret,
  last4,
  parseCredential,
  randomBase62,
  toBase62,
  type CredentialKind,
} from '../../src/domain/credentials';
import type { Environment } from '../../src/domain/environments';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const KINDS: CredentialKind[] = ['sk', 'pk', 'st'];
const ENVS: Environment[] = ['live', 'sandbox'];

/** Base62 back to a number, most significant digit first (the SPEC's reading). */
const fromBase62 = (s: string): number => [...s].reduce((n, c) => n * 62 + BASE62.indexOf(c), 0);

describe('toBase62', () => {
  it.each([
    [0, 6, '000000'],
    [1, 6, '000001'],
    [9, 1, '9'],
    [10, 1, 'A'],
    [35, 1, 'Z'],
    [36, 1, 'a'],
    [61, 1, 'z'],
    [61, 2, '0z'],
    [62, 2, '10'],
    [62, 3, '010'],
    [3843, 2, 'zz'],
    [3844, 2, '100'],
    [0xffffffff, 6, '4gfFC3'],
  ])('%d at width %d is %s', (value, width, expected) => {
    expect(toBase62(value, width)).toBe(expected);
  });

  it('round-trips and pads every CRC32 to exactly 6 characters', () => {
    for (const value of [0, 1, 61, 62, 12345678, 2 ** 31, 0xffffffff]) {
      const s = toBase62(value, 6);
      expect(s).toHaveLength(6);
      expect(fromBase62(s)).toBe(value);
    }
  });
});

/**
 * CRC-32 (ISO-HDLC, the zlib/PNG one) bit by bit, written from its definition
 * (reflected polynomial 0xEDB88320, init and final XOR 0xFFFFFFFF), so the
 * checksum is compared with something the gateway does not share.
 */
function referenceCrc32(text: string): number {
  let crc = 0xffffffff;
  for (const byte of Buffer.from(text, 'utf8')) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

describe('checksum', () => {
  it('the reference CRC-32 gives the standard check value, and node:zlib agrees with it', () => {
    expect(referenceCrc32('123456789')).toBe(0xcbf43926);
    expect(crc32('123456789')).toBe(0xcbf43926);
  });

  it.each([
    // 0xCBF43926 = 3421780262 = 3·62^5 + 45·62^4 + 35·62^3 + 27·62^2 + 22·62 + 14
    ['123456789', 0xcbf43926, '3jZRME'],
    // 0x280B8D31 = 671845681 = 0·62^5 + 45·62^4 + 28·62^3 + 61·62^2 + 46·62 + 41: padded with a leading 0
    ['vg_live_sk_0123456789ABCDEFGHIJKLMNOPQRSTUV', 0x280b8d31, '0jSzkf'],
  ])('of %s is the base62 of its CRC32 (worked out by hand)', (body, crc, expected) => {
    expect(referenceCrc32(body)).toBe(crc);
    expect(checksum(body)).toBe(expected);
  });

  it('makes a hand-made credential parse, and one character off it does not', () => {
    const handMade = 'vg_live_sk_0123456789ABCDEFGHIJKLMNOPQRSTUV0jSzkf';
    expect(parseCredential(handMade, 'sk')).toEqual({ ok: true, environment: 'live', kind: 'sk' });
    expect(parseCredential(`${handMade.slice(0, -1)}g`, 'sk')).toEqual({ ok: false, problem: 'malformed' });
  });
});

describe('randomBase62', () => {
  it('gives n characters of the alphabet, and differs each time', () => {
    const a = randomBase62(32);
    const b = randomBase62(32);
    expect(a).toMatch(/^[0-9A-Za-z]{32}$/);
    expect(a).not.toBe(b);
    expect(randomBase62(0)).toBe('');
  });

  it('uses the whole alphabet', () => {
    const seen = new Set(randomBase62(20_000));
    expect(seen.size).toBe(62);
  });
});

describe('generateCredential / parseCredential', () => {
  it.each(ENVS.flatMap((env) => KINDS.map((kind) => [env, kind] as const)))('%s %s: the documented shape, and it parses', (env, kind) => {
    const credential = generateCredential(env, kind);
    expect(credential).toMatch(new RegExp(`^vg_${env}_${kind}_[0-9A-Za-z]{38}$`));
    expect(credential).toHaveLength(`vg_${env}_${kind}_`.length + 32 + 6);
    expect(credential.slice(-6)).toBe(checksum(credential.slice(0, -6)));
    expect(parseCredential(credential, kind)).toEqual({ ok: true, environment: env, kind });
  });

  it('rejects every single-character typo across the random part and the checksum', () => {
    const key = generateCredential('live', 'sk');
    const start = 'vg_live_sk_'.length;
    let tried = 0;
    for (let i = start; i < key.length; i++) {
      for (const c of BASE62) {
        if (c === key[i]) continue;
        const typo = key.slice(0, i) + c + key.slice(i + 1);
        const result = parseCredential(typo, 'sk');
        if (result.ok || result.problem !== 'malformed') throw new Error(`typo at ${i} (${c}) was not refused: ${JSON.stringify(result)}`);
        tried++;
      }
    }
    expect(tried).toBe(38 * 61);
  });

  it('rejects two adjacent characters swapped', () => {
    const key = generateCredential('live', 'sk');
    for (let i = 'vg_live_sk_'.length; i < key.length - 1; i++) {
      if (key[i] === key[i + 1]) continue;
      const swapped = key.slice(0, i) + key[i + 1] + key[i] + key.slice(i + 2);
      expect(parseCredential(swapped, 'sk')).toEqual({ ok: false, problem: 'malformed' });
    }
  });

  it('rejects a truncated or extended credential', () => {
    const key = generateCredential('live', 'sk');
    for (let n = 1; n <= 10; n++) expect(parseCredential(key.slice(0, -n), 'sk')).toEqual({ ok: false, problem: 'malformed' });
    expect(parseCredential(`${key}0`, 'sk')).toEqual({ ok: false, problem: 'malformed' });
    expect(parseCredential(` ${key}`, 'sk')).toEqual({ ok: false, problem: 'malformed' });
    expect(parseCredential(`${key}\n`, 'sk')).toEqual({ ok: false, problem: 'malformed' });
  });

  it.each(['', 'vg_live_sk_', 'not-a-key', 'vg_prod_sk_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZab', 'vg_live_xx_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZab'])(
    'rejects junk %p as malformed',
    (value) => {
      expect(parseCredential(value, 'sk')).toEqual({ ok: false, problem: 'malformed' });
    },
  );

  it('reports the wrong kind, with its environment (checksum valid)', () => {
    const pk = generateCredential('live', 'pk');
    expect(parseCredential(pk, 'sk')).toEqual({ ok: false, problem: 'wrong_kind', environment: 'live' });
    const st = generateCredential('sandbox', 'st');
    expect(parseCredential(st, 'sk')).toEqual({ ok: false, problem: 'wrong_kind', environment: 'sandbox' });
  });

  it('names the other environment of a valid credential, so the caller can report the mix-up', () => {
    const sandboxKey = generateCredential('sandbox', 'sk');
    expect(parseCredential(sandboxKey, 'sk')).toEqual({ ok: true, environment: 'sandbox', kind: 'sk' });
  });

  it('refuses a credential whose prefix was edited (the checksum covers it)', () => {
    const key = generateCredential('sandbox', 'sk');
    expect(parseCredential(key.replace('vg_sandbox_', 'vg_live_'), 'sk')).toEqual({ ok: false, problem: 'malformed' });
    const pk = generateCredential('live', 'pk');
    expect(parseCredential(pk.replace('_pk_', '_sk_'), 'sk')).toEqual({ ok: false, problem: 'malformed' });
  });
});

describe('identity secrets and last4', () => {
  it('identity secret: vg_<env>_is_ + 43 base62', () => {
    expect(generateIdentitySecret('live')).toMatch(/^vg_live_is_[0-9A-Za-z]{43}$/);
    expect(generateIdentitySecret('sandbox')).toMatch(/^vg_sandbox_is_[0-9A-Za-z]{43}$/);
    expect(generateIdentitySecret('live')).not.toBe(generateIdentitySecret('live'));
  });

  it('last4 is the last four characters', () => {
    expect(last4('vg_live_sk_abcdWXYZ')).toBe('WXYZ');
  });
});
