// Which overlay entries changed since the last export froze its totals, with their totals then: what lets the next
// export be planned from the last one without keeping every user's exported totals (memory and work follow the users
// that changed, not the users held). One log per overlay table; every change to an entry it holds goes through it.

import { type UserAggTable, grownCopy } from '../core/agg-table.js';

export class ChangeLog {
  /** Per entry: 1 + its index in the lists, or 0 when it has not changed since the last cut. */
  private indexOf = new Int32Array(1024);
  private entries: number[] = [];
  private counts: number[] = [];
  private cents: number[] = [];

  /** Adds to entry e of `overlay` (the table this log belongs to), noting its totals before the first change since the last cut. */
  addAt(overlay: UserAggTable, e: number, count: number, cents: number): void {
    if (e >= this.indexOf.length) this.indexOf = grownCopy(this.indexOf, Math.max(e + 1, this.indexOf.length * 2));
    if (this.indexOf[e] === 0) {
      this.entries.push(e);
      this.counts.push(overlay.countAt(e));
      this.cents.push(overlay.centsAt(e));
      this.indexOf[e] = this.entries.length;
    }
    overlay.addAt(e, count, cents);
  }

  /** The entries changed since the last cut (in no order), and a new log from now on. */
  cut(): Uint32Array {
    const changed = Uint32Array.from(this.entries);
    for (const e of this.entries) this.indexOf[e] = 0;
    this.entries = [];
    this.counts = [];
    this.cents = [];
    return changed;
  }

  /** Entry e's count at the last cut: `now` unless it changed since. */
  countAtCut(e: number, now: number): number {
    const i = this.loggedAt(e);
    return i < 0 ? now : this.counts[i]!;
  }

  /** Entry e's cents at the last cut: `now` unless it changed since. */
  centsAtCut(e: number, now: number): number {
    const i = this.loggedAt(e);
    return i < 0 ? now : this.cents[i]!;
  }

  private loggedAt(e: number): number {
    return e < this.indexOf.length ? this.indexOf[e]! - 1 : -1;
  }
}
