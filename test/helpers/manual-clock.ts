// A manual clock for tests: time moves only when the test advances it, and sleepers wake in time order.

import { type Clock } from '../../src/core/clock.js';

export class ManualClock implements Clock {
  private waiters: { atMs: number; wake: () => void }[] = [];

  constructor(private time = 0) {}

  now(): number {
    return this.time;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (ms <= 0 || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const aborted = (): void => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve();
      };
      // Woken by time, it takes its listener off the signal: a loop sleeping on one long-lived signal (a layer's stop
      // signal) left one per sleep, and Node warned (MaxListenersExceededWarning) past ten.
      const waiter = {
        atMs: this.time + ms,
        wake: () => {
          signal?.removeEventListener('abort', aborted);
          resolve();
        },
      };
      this.waiters.push(waiter);
      signal?.addEventListener('abort', aborted, { once: true });
    });
  }

  /** Sets the time without waking anyone (for a step taken between sleeps). */
  set(ms: number): void {
    this.time = ms;
  }

  /** Moves time forward to `ms`, waking each sleeper due on the way at its own time and letting it run. */
  async advanceTo(ms: number): Promise<void> {
    for (;;) {
      const due = this.waiters.filter((w) => w.atMs <= ms).sort((a, b) => a.atMs - b.atMs)[0];
      if (!due) break;
      this.waiters = this.waiters.filter((w) => w !== due);
      this.time = Math.max(this.time, due.atMs);
      due.wake();
      await settle();
    }
    this.time = Math.max(this.time, ms);
  }

  /** Sleepers currently waiting. */
  get sleepers(): number {
    return this.waiters.length;
  }
}

/** Lets pending promise callbacks and immediate tasks run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
