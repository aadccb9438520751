// The real clock, kept out of the pure core.

import { type Clock } from '../../core/clock.js';
import { sleep } from './sleep.js';

const never = new AbortController().signal;

export const systemClock: Clock = { now: () => Date.now(), sleep: (ms, signal) => sleep(ms, signal ?? never) };
