// The seeded PRNG for tests, so generated cases are the same on every run and every machine.
//
// Its source of numbers is the mulberry32 in src/core/event-generator.ts, not a twin of it: generating test inputs
// decides no result (expectations come from the generated inputs themselves), so sharing it costs no independence.

import { seededRandom } from '../../src/core/event-generator.js';

export interface Random {
  /** A float in [0, 1). */
  readonly next: () => number;
  /** An integer in [0, n). */
  readonly int: (n: number) => number;
  /** An integer in [min, max]. */
  readonly between: (min: number, max: number) => number;
  /** True with probability p. */
  readonly chance: (p: number) => boolean;
  readonly pick: <T>(items: readonly T[]) => T;
}

export function seeded(seed: number): Random {
  const next = seededRandom(seed);
  const int = (n: number): number => Math.floor(next() * n);
  return {
    next,
    int,
    between: (min, max) => min + int(max - min + 1),
    chance: (p) => next() < p,
    pick: (items) => items[int(items.length)]!,
  };
}
