// Work in steps: generators that yield between pieces of work, run at once or with the event loop free between two.

import { setImmediate as yieldToEvents } from 'node:timers/promises';

/** Runs steps to their end at once; returns what they return. */
export function runToEnd<T>(steps: Iterator<unknown, T>): T {
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/**
 * Runs steps to their end with the event loop free between two (requests answered meanwhile); returns what they
 * return. The first step runs at once, before the caller's next await: what it reads is read now.
 */
export async function runInSteps<T>(steps: Iterator<unknown, T>): Promise<T> {
  for (let step = steps.next(); ; step = steps.next()) {
    if (step.done) return step.value;
    await yieldToEvents();
  }
}
