/**
 * Token mutations for the property-based tests, as plain data so a failing
 * case shrinks to something readable (`{kind: 'flip', at: 12, char: '-'}`).
 *
 * @example
 * fc.assert(fc.asyncProperty(mutationsArb(), async (ms) => check(applyMutations(token, ms))));
 */
import fc from 'fast-check';

export type Mutation =
  | { kind: 'flip'; at: number; char: string }
  | { kind: 'cut'; at: number; keep: 'head' | 'tail' }
  | { kind: 'insert'; at: number; text: string }
  | { kind: 'append'; text: string }
  | { kind: 'prepend'; text: string }
  | { kind: 'swapSegments'; order: number[] }
  | { kind: 'dropSegment'; segment: number }
  | { kind: 'duplicateSegment'; segment: number }
  | { kind: 'padding'; segment: number; pad: string }
  | { kind: 'case'; segment: number; upper: boolean }
  | { kind: 'standardBase64'; segment: number }
  | { kind: 'unusedBits'; segment: number; xor: number };

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Characters worth trying: the alphabet, its neighbours in standard base64, separators, whitespace, anything. */
export function tokenCharArb(): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...BASE64URL) },
    { weight: 2, arbitrary: fc.constantFrom('.', '=', '+', '/', ' ', '\n', '\r', '\t', '\u00a0', '\ufeff') },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
  );
}

/** Characters an HTTP header value may carry (Node refuses the rest client-side). */
export function headerCharArb(): fc.Arbitrary<string> {
  return fc
    .oneof(
      { weight: 12, arbitrary: fc.integer({ min: 0x20, max: 0x7e }) },
      { weight: 1, arbitrary: fc.constant(0x09) },
      { weight: 1, arbitrary: fc.integer({ min: 0x80, max: 0xff }) },
    )
    .map((c) => String.fromCharCode(c));
}

export function mutationArb(charArb: fc.Arbitrary<string> = tokenCharArb()): fc.Arbitrary<Mutation> {
  const at = fc.nat({ max: 4096 });
  const segment = fc.nat({ max: 4 });
  const text = fc.string({ unit: charArb, minLength: 1, maxLength: 8 });
  return fc.oneof(
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('flip' as const), at, char: charArb }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('cut' as const), at, keep: fc.constantFrom('head' as const, 'tail' as const) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('insert' as const), at, text }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('append' as const), text }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('prepend' as const), text }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('swapSegments' as const), order: fc.shuffledSubarray([0, 1, 2], { minLength: 3, maxLength: 3 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('dropSegment' as const), segment }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('duplicateSegment' as const), segment }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('padding' as const), segment, pad: fc.constantFrom('=', '==', '===', '====') }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('case' as const), segment, upper: fc.boolean() }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('standardBase64' as const), segment }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('unusedBits' as const), segment, xor: fc.integer({ min: 1, max: 15 }) }) },
  );
}

/** One to three mutations, or none at all (the token itself must still be accepted: the property is not vacuous). */
export function mutationsArb(charArb?: fc.Arbitrary<string>): fc.Arbitrary<Mutation[]> {
  return fc.oneof(
    { weight: 1, arbitrary: fc.constant([] as Mutation[]) },
    { weight: 9, arbitrary: fc.array(mutationArb(charArb), { minLength: 1, maxLength: 3 }) },
  );
}

function onSegment(token: string, segment: number, f: (s: string) => string): string {
  const parts = token.split('.');
  const i = segment % parts.length;
  parts[i] = f(parts[i]!);
  return parts.join('.');
}

/** Changes bits the last base64url character carries beyond the data (none when the segment length is a multiple of 4). */
function changeUnusedBits(s: string, xor: number): string {
  const unused = (s.length * 6) % 8;
  const last = BASE64URL.indexOf(s.at(-1) ?? '');
  if (unused === 0 || last < 0) return s;
  return s.slice(0, -1) + BASE64URL[last ^ (xor & ((1 << unused) - 1))];
}

export function applyMutation(token: string, m: Mutation): string {
  const len = Math.max(token.length, 1);
  switch (m.kind) {
    case 'flip': {
      const i = m.at % len;
      return token.slice(0, i) + m.char + token.slice(i + 1);
    }
    case 'cut':
      return m.keep === 'head' ? token.slice(0, m.at % len) : token.slice(m.at % len);
    case 'insert': {
      const i = m.at % (len + 1);
      return token.slice(0, i) + m.text + token.slice(i);
    }
    case 'append':
      return token + m.text;
    case 'prepend':
      return m.text + token;
    case 'swapSegments': {
      const parts = token.split('.');
      if (parts.length !== 3) return token;
      return m.order.map((i) => parts[i]).join('.');
    }
    case 'dropSegment': {
      const parts = token.split('.');
      parts.splice(m.segment % parts.length, 1);
      return parts.join('.');
    }
    case 'duplicateSegment': {
      const parts = token.split('.');
      const i = m.segment % parts.length;
      parts.splice(i, 0, parts[i]!);
      return parts.join('.');
    }
    case 'padding':
      return onSegment(token, m.segment, (s) => s + m.pad);
    case 'case':
      return onSegment(token, m.segment, (s) => (m.upper ? s.toUpperCase() : s.toLowerCase()));
    case 'standardBase64':
      return onSegment(token, m.segment, (s) => Buffer.from(s, 'base64url').toString('base64'));
    case 'unusedBits':
      return onSegment(token, m.segment, (s) => changeUnusedBits(s, m.xor));
  }
}

export const applyMutations = (token: string, ms: readonly Mutation[]): string => ms.reduce(applyMutation, token);
