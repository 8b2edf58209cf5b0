/** Time source, injectable so domain tests can freeze it. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock that only moves when told to; for tests. */
export class FrozenClock implements Clock {
  constructor(private ms: number = Date.parse('2026-11-21T10:00:00.000Z')) {}
  now(): number {
    return this.ms;
  }
  advance(ms: number): void {
    this.ms += ms;
  }
  set(ms: number): void {
    this.ms = ms;
  }
}

export const epochSeconds = (ms: number): number => Math.floor(ms / 1000);
export const iso = (ms: number): string => new Date(ms).toISOString();
