import { createHash } from 'node:crypto';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import type { Request, Response } from 'express';
import Negotiator from 'negotiator';
import { VerigateError } from '../domain/errors';

/** One encoding of the script, compressed once and kept. */
interface Representation {
  readonly encoding: 'br' | 'gzip' | 'identity';
  readonly body: Buffer;
  /** Strong, and distinct per encoding (RFC 9110 §8.8.3: each is its own representation). */
  readonly etag: string;
}

/** The server's own order when the client is indifferent: smallest first. */
const PREFERRED = ['br', 'gzip', 'identity'] as const;

/** negotiator 1.1 breaks ties by the server's preference; @types/negotiator (0.6) does not know that option yet. */
type EncodingsWithPreference = (available: readonly string[], options: { preferred: readonly string[] }) => string[];

/**
 * The browser SDK script (`@verigate/browser`'s dist/verigate.js), compressed
 * once when the app is built: brotli (quality 11) and gzip (level 9) cost
 * a few milliseconds here, and nothing per request.
 */
export function compressSdkScript(script: string): ReadonlyMap<Representation['encoding'], Representation> {
  const identity = Buffer.from(script, 'utf8');
  const digest = createHash('sha256').update(identity).digest('base64url').slice(0, 27);
  const bodies: Record<Representation['encoding'], Buffer> = {
    br: brotliCompressSync(identity, {
      params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: identity.length },
    }),
    gzip: gzipSync(identity, { level: 9 }),
    identity,
  };
  return new Map(
    PREFERRED.map((encoding) => [
      encoding,
      { encoding, body: bodies[encoding], etag: `"${digest}${encoding === 'identity' ? '' : `-${encoding}`}"` },
    ]),
  );
}

/**
 * GET /sdk/v1/verigate.js: the script in the best encoding the client
 * accepts (`Accept-Encoding`, q-values honoured, brotli preferred on a tie),
 * with a strong `ETag` and `304 Not Modified` on a matching
 * `If-None-Match`. 404 `not_found` when the browser package is not built.
 */
export function sdkScriptHandler(script: string | null) {
  const representations = script === null ? null : compressSdkScript(script);
  return function sdk(req: Request, res: Response): void {
    if (representations === null) {
      throw new VerigateError('not_found', 'The browser SDK has not been built (npm run build)');
    }
    const negotiator = new Negotiator(req);
    const [accepted] = (negotiator.encodings as EncodingsWithPreference).call(negotiator, PREFERRED, { preferred: PREFERRED });
    // `identity;q=0` with nothing else we have: the script is still sent plain (RFC 9110 §12.5.3 allows it).
    const chosen = representations.get((accepted as Representation['encoding'] | undefined) ?? 'identity') as Representation;
    res.setHeader('Content-Type', 'text/javascript; charset=utf-8');
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.setHeader('Vary', 'Accept-Encoding');
    res.setHeader('ETag', chosen.etag);
    // Customers' pages load this with <script src> from their own origin;
    // helmet's default `same-origin` would make the browser refuse it.
    res.setHeader('Cross-Origin-Resource-Policy', 'cross-origin');
    if (req.fresh) {
      res.status(304).end();
      return;
    }
    if (chosen.encoding !== 'identity') res.setHeader('Content-Encoding', chosen.encoding);
    res.setHeader('Content-Length', String(chosen.body.length));
    res.end(chosen.body); // Node sends no body for HEAD
  };
}
