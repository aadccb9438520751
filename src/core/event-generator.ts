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
/** Skew exponent: user = floor(users * u^SKEW) puts a few heavy users at the low ids and a long tail above. */
const SKEW = 3;

export interface GeneratedCounts {
  rows: number;
  purchases: number;
}

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

  /** `rows` lines with timestamps increasing from startSeconds, `rowsPerSecond` a second. */
  lines(rows: number, startSeconds: number, rowsPerSecond: number, firstRow: number, counts: GeneratedCounts): string {
    let text = '';
    for (let i = 0; i < rows; i++) text += this.line(startSeconds + Math.floor((firstRow + i) / rowsPerSecond), counts);
    return text;
  }
}
