import type { KvStore, Subscription } from '../kv';
import { channels } from './keys';

/** What one instance tells the others when something cached has changed. */
export type Invalidation =
  | { readonly t: 'api-key'; readonly hash: string }
  | { readonly t: 'site'; readonly siteId: string; readonly publishableKey?: string }
  | { readonly t: 'signing-keys' };

export interface InvalidationHandlers {
  onInvalidation(message: Invalidation): void;
  /** Messages may have been lost: drop every cached thing. */
  onReset(): void;
}

/**
 * The environment's invalidation channel. Every instance subscribes once and
 * fans messages out to the record stores' caches; publishing is part of
 * every write that changes a cached record.
 */
export class InvalidationBus {
  private readonly handlers: InvalidationHandlers[] = [];
  private subscription: Subscription | null = null;
  private retry: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly store: KvStore,
    private readonly onError: (err: unknown) => void = () => {},
  ) {}

  /** True while invalidations are guaranteed to arrive; caches serve only then. */
  get active(): boolean {
    return this.subscription?.active ?? false;
  }

  register(handlers: InvalidationHandlers): void {
    this.handlers.push(handlers);
  }

  /**
   * Subscribes; when the store is down at start, keeps trying in the
   * background (caches stay bypassed until it succeeds).
   */
  async start(): Promise<void> {
    try {
      await this.subscribe();
    } catch (err) {
      this.onError(err);
      if (!this.stopped) {
        this.retry = setTimeout(() => void this.start(), 1000);
        this.retry.unref();
      }
    }
  }

  private async subscribe(): Promise<void> {
    this.subscription = await this.store.subscribe(channels.invalidate, {
      message: (payload) => {
        let parsed: Invalidation;
        try {
          parsed = JSON.parse(payload) as Invalidation;
        } catch {
          return;
        }
        for (const h of this.handlers) h.onInvalidation(parsed);
      },
      reset: () => {
        for (const h of this.handlers) h.onReset();
      },
    });
  }

  async publish(message: Invalidation): Promise<void> {
    await this.store.publish(channels.invalidate, JSON.stringify(message));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    await this.subscription?.close();
    this.subscription = null;
  }
}
