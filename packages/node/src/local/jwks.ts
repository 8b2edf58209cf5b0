import { createPublicKey, type KeyObject } from 'node:crypto';

/** How often the JWKS may be fetched again for a `kid` not in it (a bad token must not make us fetch). */
export const DEFAULT_JWKS_REFRESH_INTERVAL_MS = 30_000;

export interface JwksOptions {
  readonly url: string;
  readonly fetch: (input: string, init: RequestInit) => Promise<Response>;
  readonly timeoutMs: number;
  /** At most one fetch for an unknown kid per this many ms. */
  readonly refreshIntervalMs: number;
  readonly now?: () => number;
}

/**
 * The environment's public keys (`GET /.well-known/jwks.json`), imported
 * once per `kid`. Fetched at start, on `signing_key.rotated`, and for an
 * unknown `kid` at most once per `refreshIntervalMs`; never per bad token.
 * Only P-256 EC keys are taken (the gateway signs ES256, nothing else).
 */
export class Jwks {
  private keys = new Map<string, KeyObject>();
  private lastFetchAt = -Infinity;
  private inFlight: Promise<void> | null = null;
  private readonly now: () => number;

  constructor(private readonly options: JwksOptions) {
    this.now = options.now ?? Date.now;
  }

  /** The key for `kid` in the copy held, if any. */
  key(kid: string): KeyObject | undefined {
    return this.keys.get(kid);
  }

  /**
   * Fetches again for an unknown `kid`, unless a fetch began less than the
   * interval ago (then resolves at once: the caller asks the gateway).
   */
  refreshForUnknownKid(): Promise<void> {
    if (this.inFlight) return this.inFlight;
    if (this.now() - this.lastFetchAt < this.options.refreshIntervalMs) return Promise.resolve();
    return this.refresh();
  }

  /** Fetches now (start, rotation); failures leave the copy as it was (unknown kids then go to the gateway). */
  refresh(): Promise<void> {
    if (this.inFlight) return this.inFlight;
    this.lastFetchAt = this.now();
    this.inFlight = this.fetchKeys()
      .then((keys) => {
        this.keys = keys;
      })
      .catch(() => undefined)
      .finally(() => {
        this.inFlight = null;
      });
    return this.inFlight;
  }

  private async fetchKeys(): Promise<Map<string, KeyObject>> {
    const res = await this.options.fetch(this.options.url, {
      headers: { Accept: 'application/json' },
      redirect: 'manual',
      signal: AbortSignal.timeout(this.options.timeoutMs),
    });
    if (res.status !== 200) {
      await res.body?.cancel();
      throw new Error(`JWKS answered ${res.status}`);
    }
    const body = (await res.json()) as { keys?: unknown };
    if (!Array.isArray(body.keys)) throw new Error('JWKS without keys');
    const keys = new Map<string, KeyObject>();
    for (const jwk of body.keys as Record<string, unknown>[]) {
      if (typeof jwk !== 'object' || jwk === null || typeof jwk.kid !== 'string') continue;
      if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || (jwk.alg !== undefined && jwk.alg !== 'ES256')) continue;
      if (jwk.use !== undefined && jwk.use !== 'sig') continue;
      // A key already imported stays the same object (the token cache checks identity).
      const known = this.keys.get(jwk.kid);
      if (known) {
        keys.set(jwk.kid, known);
        continue;
      }
      try {
        keys.set(jwk.kid, createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y } as never, format: 'jwk' }));
      } catch {
        // not a usable key: ignored, as an unknown kid
      }
    }
    return keys;
  }
}
