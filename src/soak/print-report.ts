// The soak report as lines a person reads.

import { type SoakReport } from './soak.js';

export function printSoakReport(r: SoakReport, print: (line: string) => void): void {
  const ms = (v: number | null): string => (v === null ? 'n/a' : `${Math.round(v)} ms`);
  print(`soak report: ${r.durationMs / 1000} s at ${r.rate} events/s${r.killEveryMs === null ? '' : `, ${r.kills} SIGKILLs`}`);
  print(`  stream events generated     ${r.streamEventsGenerated ?? 'n/a (child process)'}`);
  print(`  purchases: merged view      ${r.purchasesInMergedView}  master dataset ${r.purchasesInMasterDataset}  ${r.exact ? 'EQUAL' : 'DIFFERENT'}`);
  print(`  bad rows quarantined        ${r.badRows}`);
  print(`  RSS growth (last vs first fifth)  ${r.rssGrowthPercent} % (${r.rssGrowthMB} MB); heap ${r.heapGrowthPercent === null ? 'n/a' : `${r.heapGrowthPercent} %`}`);
  print(`  event-loop lag p99          ${ms(r.loopLagP99Ms)}`);
  print(`  freshness p50 / p99         ${ms(r.freshnessP50Ms)} / ${ms(r.freshnessP99Ms)} (${r.freshnessSamples} chunks)`);
  print(`  files at end                ${Object.entries(r.filesAtEnd).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  for (const c of r.checks) print(`  ${c.pass ? 'PASS' : 'FAIL'} ${c.name}: ${c.detail}`);
  print(r.pass ? 'soak: PASS' : 'soak: FAIL');
}
