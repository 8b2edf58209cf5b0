import type { Subscription } from '../kv';

/**
 * An in-process cache that may serve an entry only while the invalidation
 * channel it listens to is known to deliver: the moment the subscription
 * drops (or is reset), everything is forgotten and reads fall through to the
 * store. That is what lets revocation reach every instance within a second
 * without a store read per request.
 */
export class InvalidatingCache<V> {
  private readonly entries = new Map<string, V>();
  private subscription: Pick<Subscription, 'active'> | null = null;

  constructor(private readonly maxEntries: number) {}

  /** Binds the cache to the subscription that invalidates it. Until bound, nothing is served. */
  bind(subscription: Pick<Subscription, 'active'>): void {
    this.subscription = subscription;
  }

  get(key: string): V | undefined {
    if (!this.subscription?.active) return undefined;
    return this.entries.get(key);
  }

  set(key: string, value: V): void {
    if (!this.subscription?.active) return;
    if (this.entries.size >= this.maxEntries && !this.entries.has(key)) {
      // Oldest first: Map keeps insertion order.
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(key, value);
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
