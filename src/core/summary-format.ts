// Human-readable numbers for one-line summaries.

export function count(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

export function perSecond(n: number, ms: number): string {
  return `${count(ms > 0 ? (n * 1000) / ms : 0)}/s`;
}
