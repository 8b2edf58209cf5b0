import { VerigateError } from './errors.js';
import type { Environment } from './protocol.js';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const CREDENTIAL = /^vg_(live|sandbox)_(sk|pk|st)_[0-9A-Za-z]{38}$/;

// CRC-32 (IEEE 802.3, the polynomial of zlib's crc32) in plain JavaScript:
// `node:zlib` would tie the package to Node, and the fetch helper is meant
// for workers and edge runtimes too. Credentials are ASCII, so one byte a
// character.
const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(text: string): number {
  let crc = 0xffffffff;
  for (let i = 0; i < text.length; i++) crc = (CRC_TABLE[(crc ^ text.charCodeAt(i)) & 0xff] as number) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** The 6 base62 checksum characters of a credential body (SPEC §2). */
function checksum(body: string): string {
  let value = crc32(body);
  let out = '';
  while (value > 0) {
    out = BASE62[value % 62] + out;
    value = Math.floor(value / 62);
  }
  return out.padStart(6, '0');
}

/**
 * The environment a secret API key belongs to, checked locally (shape and
 * CRC32 checksum, as the gateway does) so a typo, a truncated key or a
 * publishable key pasted by mistake fails at start-up, not on the first
 * request. Throws a {@link VerigateError} `invalid_api_key` otherwise.
 */
export function apiKeyEnvironment(apiKey: string): Environment {
  const m = CREDENTIAL.exec(apiKey);
  const split = apiKey.length - 6;
  if (!m || checksum(apiKey.slice(0, split)) !== apiKey.slice(split)) {
    throw new VerigateError(
      'invalid_api_key',
      'apiKey is not a verigate secret API key (expected vg_live_sk_… or vg_sandbox_sk_…; check for a typo or a truncated copy)',
    );
  }
  if (m[2] !== 'sk') {
    const what = m[2] === 'pk' ? 'a publishable key (it belongs in the page)' : 'a session token';
    throw new VerigateError('invalid_api_key', `apiKey is ${what}, not a secret API key (vg_${m[1]}_sk_…)`);
  }
  return m[1] as Environment;
}
