// Deterministic sample events: a seeded PRNG, a skewed user distribution, ~30 % purchases with 2-decimal amounts.

/** mulberry32: small, fast, and the same sequence for the same seed on every machine. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const PURCHASE_SHARE = 0.3;
/** First timestamp of generated history unless told: 2023-11-14T22:13:20Z. */
export const HISTORY_START_SECONDS = 1_700_000_000;
/** How long generated history lasts unless told: 30 days. */
export const HISTORY_SPAN_SECONDS = 30 * 86_400;

/** A history start for a span that ends at the top of the hour before `nowMs`: sample history leading up to a live stream. */
export function historyEndingAt(nowMs: number, spanSeconds: number): number {
  return Math.max(0, Math.floor(nowMs / 3_600_000) * 3_600 - spanSeconds);
}
/** Skew exponent: user = floor(users * u^SKEW) puts a few heavy users at the low ids and a long tail above. */
const SKEW = 3;

export interface GeneratedCounts {
  rows: number;
  purchases: number;
}

/**
 * How a stream's rows are stamped relative to the moment they are written: up to `outOfOrderSeconds` before it, and a
 * `lateFraction` of them `lateBySeconds` further back (late for a watermark whose allowed lateness is shorter).
 */
export interface StreamStamps {
  readonly outOfOrderSeconds: number;
  readonly lateFraction: number;
  readonly lateBySeconds: number;
}

export const IN_ORDER: StreamStamps = Object.freeze({ outOfOrderSeconds: 0, lateFraction: 0, lateBySeconds: 0 });

export class EventGenerator {
  private readonly random: () => number;

  constructor(
    seed: number,
    private readonly users: number,
  ) {
    this.random = seededRandom(seed);
  }

  /** One CSV line (with its newline) for the given unix time; counts is updated. */
  line(unixSeconds: number, counts: GeneratedCounts): string {
    const user = Math.floor(this.users * this.random() ** SKEW);
    counts.rows++;
    if (this.random() < PURCHASE_SHARE) {
      counts.purchases++;
      const cents = 100 + Math.floor(this.random() * 49_900);
      const fraction = cents % 100;
      return `u${user},purchase,${(cents - fraction) / 100}.${fraction < 10 ? '0' : ''}${fraction},${unixSeconds}\n`;
    }
    return `u${user},view,0.00,${unixSeconds}\n`;
  }

  /** `rows` lines with timestamps increasing from startSeconds, `rowsPerSecond` a second (a fraction spreads them wider). */
  lines(rows: number, startSeconds: number, rowsPerSecond: number, firstRow: number, counts: GeneratedCounts): string {
    let text = '';
    for (let i = 0; i < rows; i++) text += this.line(startSeconds + Math.floor((firstRow + i) / rowsPerSecond), counts);
    return text;
  }

  /**
   * `rows` lines written at nowSeconds, stamped as `stamps` says (draws from the same seeded sequence, only for the
   * stamping asked for: in order, the lines are those of `lines` at one second).
   */
  streamLines(rows: number, nowSeconds: number, stamps: StreamStamps, counts: GeneratedCounts): string {
    let text = '';
    for (let i = 0; i < rows; i++) {
      let second = nowSeconds;
      if (stamps.outOfOrderSeconds > 0) second -= Math.floor(this.random() * (stamps.outOfOrderSeconds + 1));
      if (stamps.lateFraction > 0 && this.random() < stamps.lateFraction) second -= stamps.lateBySeconds;
      text += this.line(Math.max(0, second), counts);
    }
    return text;
  }
}
