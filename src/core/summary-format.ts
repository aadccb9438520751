// Human-readable numbers for one-line summaries.

// One formatter for every call: toLocaleString builds a new one each time (~1 ms each, paid at every CLI start).
const GROUPED = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

export function count(n: number): string {
  return GROUPED.format(Math.round(n));
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

export function perSecond(n: number, ms: number): string {
  return `${count(ms > 0 ? (n * 1000) / ms : 0)}/s`;
}

/** An event-time watermark (Unix seconds) in ISO 8601 UTC, `2026-12-07T10:00:00Z`, or `none yet`. */
export function eventWatermarkText(watermark: number | null): string {
  return watermark === null ? 'none yet' : new Date(watermark * 1000).toISOString().replace('.000Z', 'Z');
}
