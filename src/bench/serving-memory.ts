// bench:serving's memory: serve's resident set sampled through the run, so that its peak (VmHWM) can be told to a phase.

import { memoryOfPid } from '../soak/measure.js';

/** serve's RSS is sampled this often, to tell which phase its peak (VmHWM) came from. */
export const RSS_SAMPLE_MS = 100;

export const PHASES = ['answers checked', 'lookups', 'range reads', 'stream', 'batch swap'] as const;
export type Phase = (typeof PHASES)[number];

/** serve's resident set sampled every RSS_SAMPLE_MS, the highest per phase. */
export class RssByPhase {
  phase: Phase = PHASES[0];
  readonly highestBytes: Partial<Record<Phase, number>> = {};
  private readonly timer: NodeJS.Timeout;

  constructor(pid: number) {
    this.timer = setInterval(() => {
      const rss = memoryOfPid(pid, 'VmRSS');
      if (rss !== undefined) this.highestBytes[this.phase] = Math.max(this.highestBytes[this.phase] ?? 0, rss);
    }, RSS_SAMPLE_MS);
  }

  close(): void {
    clearInterval(this.timer);
  }
}
