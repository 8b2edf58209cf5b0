import type { ChannelListener } from '../../src/store/kv';

/** A listener that records what it is told and lets a test await it. */
export class RecordingListener implements ChannelListener {
  readonly messages: string[] = [];
  resets = 0;
  private waiters: (() => void)[] = [];

  message(payload: string): void {
    this.messages.push(payload);
    this.wake();
  }

  reset(): void {
    this.resets++;
    this.wake();
  }

  /** Resolves once `predicate` holds (checked after every message/reset). */
  until(predicate: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`timed out waiting for ${what}; got messages ${JSON.stringify(this.messages)}, ${this.resets} resets`));
      }, timeoutMs);
      const check = (): void => {
        if (predicate()) {
          clearTimeout(timer);
          resolve();
        } else {
          this.waiters.push(check);
        }
      };
      this.waiters.push(check);
    });
  }

  /** Resolves once `reset()` has been called `count` times in all. */
  untilResets(count: number, timeoutMs = 15_000): Promise<void> {
    return this.until(() => this.resets >= count, `${count} resets`, timeoutMs);
  }

  untilMessage(payload: string): Promise<void> {
    return this.until(() => this.messages.includes(payload), `message ${JSON.stringify(payload)}`);
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter();
  }
}
