import { StoreUnavailableError } from '../domain/errors';
import type { ChannelListener, Subscription } from './kv';
import { abandon, unavailable, waitReady, quit, type RedisClient } from './redis-connections';

interface Entry {
  readonly listener: ChannelListener;
  active: boolean;
}

export interface RedisSubscriptionsOptions {
  /**
   * Makes the dedicated subscriber connection, lazily; called again only
   * when that connection has ended for good (gave up reconnecting). It
   * should be made with `autoResubscribe: false`: this class resubscribes
   * itself after a reconnect, so it knows when the subscription is back.
   */
  readonly subscriberFactory: () => RedisClient;
  readonly readyTimeoutMs: number;
  readonly onError?: (err: Error) => void;
}

/**
 * Pub/sub of one Redis store: one dedicated subscriber connection shared by
 * every subscription. A subscription is `active` only once its SUBSCRIBE is
 * confirmed on the current connection; when that connection closes, every
 * listener is reset and marked inactive, and once it is back and
 * resubscribed, reset again and marked active. Channel names are full
 * (namespace included): the store prefixes them.
 */
export class RedisSubscriptions {
  private subscriber: RedisClient | undefined;
  /** Full channel -> its listeners. */
  private readonly channels = new Map<string, Set<Entry>>();
  /** Bumped each time the subscriber connection closes. */
  private subscriberGeneration = 0;
  /** Replacing a subscriber connection that ended for good. */
  private replaceTimer: NodeJS.Timeout | undefined;
  /** Subscriber connections that ended in a row without becoming ready. */
  private subscriberFailures = 0;
  private closed = false;

  constructor(private readonly options: RedisSubscriptionsOptions) {}

  async subscribe(full: string, listener: ChannelListener): Promise<Subscription> {
    if (this.closed) throw new StoreUnavailableError(new Error('store is closed'));
    const subscriber = this.ensureSubscriber();
    await waitReady(subscriber, this.options.readyTimeoutMs);
    if (this.closed) throw new StoreUnavailableError(new Error('store is closed'));

    const entry: Entry = { listener, active: false };
    let entries = this.channels.get(full);
    if (entries === undefined) {
      entries = new Set();
      this.channels.set(full, entries);
    }
    entries.add(entry);
    const generation = this.subscriberGeneration;
    try {
      await subscriber.subscribe(full);
    } catch (err) {
      void this.removeEntry(full, entry);
      throw unavailable(err);
    }
    // If the connection dropped meanwhile, the entry stays inactive until
    // the store has resubscribed on the new connection.
    if (generation === this.subscriberGeneration && !this.closed) {
      entry.active = true;
      listener.reset();
    }

    const subscriptions = this;
    return {
      get active() {
        return entry.active && !subscriptions.closed;
      },
      async close() {
        entry.active = false;
        await subscriptions.removeEntry(full, entry);
      },
    };
  }

  /** Every subscription inactive, the subscriber connection closed. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.replaceTimer);
    for (const entries of this.channels.values()) for (const entry of entries) entry.active = false;
    this.channels.clear();
    if (this.subscriber !== undefined) await quit(this.subscriber);
  }

  /** Forgets `entry`; unsubscribes when it was the channel's last listener. */
  private async removeEntry(full: string, entry: Entry): Promise<void> {
    const entries = this.channels.get(full);
    if (entries === undefined || !entries.delete(entry) || entries.size > 0) return;
    this.channels.delete(full);
    const subscriber = this.subscriber;
    if (subscriber === undefined || subscriber.status !== 'ready') return;
    try {
      await subscriber.unsubscribe(full);
    } catch {
      // Messages for a channel nobody listens to are dropped anyway, and a
      // reconnect resubscribes only the channels still listened to.
    }
  }

  private ensureSubscriber(): RedisClient {
    if (this.subscriber !== undefined) return this.subscriber;
    const subscriber = this.options.subscriberFactory();
    this.subscriber = subscriber;
    subscriber.on('error', (err: Error) => this.options.onError?.(err));
    subscriber.on('message', (channel: string, payload: string) => {
      const entries = this.channels.get(channel);
      if (entries === undefined) return;
      for (const entry of [...entries]) {
        try {
          entry.listener.message(payload);
        } catch (err) {
          process.emitWarning(`store subscriber for ${channel} threw: ${String(err)}`);
        }
      }
    });
    subscriber.on('close', () => this.subscriberDown());
    subscriber.on('end', () => {
      this.subscriberDown();
      this.replaceSubscriber(subscriber);
    });
    subscriber.on('ready', () => {
      this.subscriberFailures = 0;
      void this.resubscribe(subscriber);
    });
    return subscriber;
  }

  /**
   * The subscriber connection gave up reconnecting (on a cluster, its node
   * stayed away): make a new one from the factory (on a cluster, to another
   * node), after a short capped backoff.
   */
  private replaceSubscriber(ended: RedisClient): void {
    if (this.closed || this.subscriber !== ended) return;
    ended.removeAllListeners('message');
    // For good (a Sentinel client would otherwise connect again by itself).
    abandon(ended);
    this.subscriber = undefined;
    const delay = Math.min(100 * 2 ** this.subscriberFailures++, 2000);
    this.replaceTimer = setTimeout(() => {
      this.replaceTimer = undefined;
      if (!this.closed && this.subscriber === undefined && this.channels.size > 0) this.ensureSubscriber();
    }, delay);
    this.replaceTimer.unref();
  }

  /** The subscriber connection is gone: messages may be missed from now on. */
  private subscriberDown(): void {
    this.subscriberGeneration++;
    if (this.closed) return;
    for (const entries of this.channels.values()) {
      for (const entry of entries) {
        entry.active = false;
        this.safeReset(entry);
      }
    }
  }

  /** The subscriber connection is (back) up: subscribe to every channel again. */
  private async resubscribe(subscriber: RedisClient): Promise<void> {
    const generation = this.subscriberGeneration;
    const channels = [...this.channels.keys()];
    if (channels.length === 0 || this.closed) return;
    try {
      await subscriber.subscribe(...channels);
    } catch (err) {
      // Still on the same connection but not subscribed: start over on a
      // fresh connection rather than stay inactive for good.
      if (generation === this.subscriberGeneration && !this.closed) {
        this.options.onError?.(err as Error);
        subscriber.disconnect(true);
      }
      return;
    }
    if (generation !== this.subscriberGeneration || this.closed) return;
    for (const channel of channels) {
      for (const entry of this.channels.get(channel) ?? []) {
        entry.active = true;
        this.safeReset(entry);
      }
    }
  }

  private safeReset(entry: Entry): void {
    try {
      entry.listener.reset();
    } catch (err) {
      process.emitWarning(`store subscriber reset threw: ${String(err)}`);
    }
  }
}
