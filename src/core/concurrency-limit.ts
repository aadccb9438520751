// A count of work in flight with a ceiling: heavy answers past it are refused at once instead of queued behind.

/** Up to `limit` holders at a time; `tryAcquire` says no (never waits) when all are taken. */
export class ConcurrencyLimit {
  private held = 0;

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`a concurrency limit must be a whole number of at least 1, got ${limit}`);
  }

  /** A release function (idempotent: a second call does nothing), or undefined when `limit` holders hold it. */
  tryAcquire(): (() => void) | undefined {
    if (this.held >= this.limit) return undefined;
    this.held++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.held--;
    };
  }

  get inFlight(): number {
    return this.held;
  }
}
