// The soak report as lines a person reads.

import { type SoakReport } from './soak.js';

export function printSoakReport(r: SoakReport, print: (line: string) => void): void {
  const ms = (v: number | null): string => (v === null ? 'n/a' : `${Math.round(v)} ms`);
  const period = (v: number | null, never: string): string => (v === null ? never : `every ${v / 1000} s`);
  print(`soak report: ${r.durationMs / 1000} s at ${r.rate} events/s in ${r.filesPerSecond} files/s${r.killEveryMs === null ? '' : `, ${r.kills} SIGKILLs`}`);
  print(`  batch ${period(r.batchEveryMs, 'at start only')}, compaction ${period(r.compactEveryMs, 'never')}`);
  print(`  stream files logged         ${r.filesPerSecondLogged} files/s`);
  print(`  stream events generated     ${r.streamEventsGenerated ?? 'n/a (child process)'}`);
  print(`  purchases: merged view      ${r.purchasesInMergedView}  master dataset ${r.purchasesInMasterDataset}  ${r.exact ? 'EQUAL' : 'DIFFERENT'}`);
  print(`  bad rows quarantined        ${r.badRows}`);
  print(
    `  RSS growth (last vs first fifth)  ${r.rssGrowthPercent} % (${r.rssGrowthMB} MB); heap ${r.heapGrowthPercent === null ? 'n/a' : `${r.heapGrowthPercent} %`}`,
  );
  const settled = r.rssAfter10Min;
  print(`  RSS from minute 10 to end   ${settled === null ? 'n/a (under 12 minutes)' : `${settled.fromMB} → ${settled.endMB} MB, ${settled.growthPercent} %`}`);
  print(`  RSS per minute (MB)         ${r.rssByMinuteMB.join(' ')}`);
  print(`  event-loop lag p99          ${ms(r.loopLagP99Ms)}`);
  print(`  freshness p50 / p99         ${ms(r.freshnessP50Ms)} / ${ms(r.freshnessP99Ms)} (${r.freshnessSamples} chunks)`);
  print(
    `  files at end                ${Object.entries(r.filesAtEnd)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')}`,
  );
  for (const c of r.checks) print(`  ${c.pass ? 'PASS' : 'FAIL'} ${c.name}: ${c.detail}`);
  print(r.pass ? 'soak: PASS' : 'soak: FAIL');
}
