// The speed layers' counters as the serving layer last saw them in their realtime heads, per stream: rows read per
// second over the last RATE_WINDOW_MS, rows read and bad rows found since each speed layer started, and how long its
// source has not been able to read.

import { type Clock } from '../core/clock.js';

/** One stream's counters as last seen. */
interface CounterSample {
  readonly atMs: number;
  readonly rows: number;
  readonly badRows: number;
  readonly startedAtMs: number;
}

/** events/s is measured over this much recent time. */
const RATE_WINDOW_MS = 10_000;

export class SpeedCounters {
  /** Per stream, the samples since the one before the rate's window (its baseline). */
  private readonly samples = new Map<string, CounterSample[]>();
  /** Per stream, since when its speed layer's source cannot read (null: it reads), as its head said last. */
  private readonly unreadableSince = new Map<string, number | null>();

  constructor(private readonly clock: Clock) {}

  /** A stream's counters as its realtime head says now; a sample unchanged since the last is not kept. */
  sample(stream: string, sample: Omit<CounterSample, 'atMs'>): void {
    const now = this.clock.now();
    let counters = this.samples.get(stream);
    if (!counters) this.samples.set(stream, (counters = []));
    const last = counters.at(-1);
    if (last && last.rows === sample.rows && last.startedAtMs === sample.startedAtMs) return;
    counters.push({ ...sample, atMs: now });
    // Keep one sample older than the window: the baseline of the rate.
    while (counters.length > 2 && counters[1]!.atMs <= now - RATE_WINDOW_MS) counters.shift();
  }

  /** A stream's realtime head says its source has not been able to read since sinceMs (null: it reads). */
  sourceUnreadable(stream: string, sinceMs: number | null): void {
    this.unreadableSince.set(stream, sinceMs);
  }

  /**
   * Per stream with a realtime head, the seconds its source has not been able to read up to now (0 while it reads). A
   * speed layer killed while its source could not read leaves that in its head: the stream is not read, either way.
   */
  get sourceUnreadableSeconds(): ReadonlyMap<string, number> {
    const now = this.clock.now();
    return new Map([...this.unreadableSince].map(([stream, since]) => [stream, since === null ? 0 : Math.max(0, now - since) / 1000]));
  }

  /**
   * Rows the speed layers read per second over the RATE_WINDOW_MS before each one's newest sample, summed over
   * streams; a stream with no new rows for RATE_WINDOW_MS counts 0. Null before a speed layer has published twice.
   * Measured between samples, not up to now: every reader of one version (/status, its SSE event, the page) gets the
   * same figure, which it did not when the time since the last sample shrank the span.
   */
  get eventsPerSecond(): number | null {
    let total: number | null = null;
    for (const samples of this.samples.values()) {
      const rate = this.rateOf(samples);
      if (rate !== null) total = (total ?? 0) + rate;
    }
    return total;
  }

  private rateOf(counters: readonly CounterSample[]): number | null {
    const last = counters.at(-1);
    if (!last) return null;
    // The newest sample at or before the window's start (or the oldest of this speed process) is the baseline.
    const sameRun = counters.filter((c) => c.startedAtMs === last.startedAtMs);
    if (sameRun.length < 2) return null;
    if (last.atMs <= this.clock.now() - RATE_WINDOW_MS) return 0;
    const base = sameRun.filter((c) => c.atMs <= last.atMs - RATE_WINDOW_MS).at(-1) ?? sameRun[0]!;
    const spanMs = last.atMs - base.atMs;
    return spanMs > 0 ? ((last.rows - base.rows) * 1000) / spanMs : null;
  }

  /** Rows the running speed layers have read since they started (null before a first realtime view). */
  get rowsIngested(): number | null {
    const lasts = [...this.samples.values()].map((c) => c.at(-1)).filter((c) => c !== undefined);
    return lasts.length === 0 ? null : lasts.reduce((n, c) => n + c.rows, 0);
  }

  /** Bad rows the running speed layers found since they started. */
  get badRows(): number {
    return [...this.samples.values()].reduce((n, c) => n + (c.at(-1)?.badRows ?? 0), 0);
  }
}
