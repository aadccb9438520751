// Waits that end early, with the error, when anything running beside them fails: a child process dying, an event
// stream ending, a check failing in an event handler.

import { setTimeout as delay } from 'node:timers/promises';
import { LambdaflowError } from '../core/errors.js';

/** Every wait of a benchmark phase goes through `guard`, so the first failure beside it ends the phase. */
export class Watchdog {
  private readonly failures: Promise<never>[] = [];
  private rejectFault: (error: unknown) => void = () => {};

  constructor() {
    const fault = new Promise<never>((_resolve, reject) => (this.rejectFault = reject));
    fault.catch(() => {});
    this.failures.push(fault);
  }

  watch(failed: Promise<never>): void {
    this.failures.push(failed);
  }

  fail(error: unknown): void {
    this.rejectFault(error);
  }

  guard<T>(work: Promise<T>): Promise<T> {
    return Promise.race([work, ...this.failures]);
  }

  sleep(durationMs: number): Promise<void> {
    return this.guard(delay(Math.max(0, durationMs)));
  }

  /** Resolves once `condition()` holds; E_STATE naming `what` after `timeoutMs`. */
  async until(condition: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (!condition()) {
      if (performance.now() > deadline) throw new LambdaflowError('E_STATE', `${what()} within ${timeoutMs / 1000} s`);
      await this.sleep(5);
    }
  }
}
