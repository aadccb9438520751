// The real clock, kept out of the pure core.

import { type Clock } from '../core/clock.js';

export const systemClock: Clock = { now: () => Date.now() };
