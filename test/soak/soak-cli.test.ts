// The short soak through the real CLI: exact-once, bounded memory and outputs, in-process and with SIGKILLs. Soak's
// verdict is not taken on trust: after it ends, the test recounts the master dataset of soak's --data folder itself
// and compares it with the merged view it reads itself.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { type Totals, compactedMasterFiles, loggedStreamFiles, plain, readMergedView } from '../helpers/outputs.js';
import { recountMasterDataset } from '../helpers/reference.js';
import { tempRoots } from '../helpers/temp-dirs.js';

const newTempRoot = tempRoots();

interface Report {
  pass: boolean;
  exact: boolean;
  streamEventsGenerated: number | null;
  purchasesInMergedView: number;
  purchasesInMasterDataset: number;
  kills: number;
  filesPerSecond: number;
  filesPerSecondLogged: number;
  batchEveryMs: number | null;
  rssByMinuteMB: number[];
  rssAfter10Min: unknown;
  freshnessP99Ms: number | null;
  checks: { name: string; pass: boolean }[];
}

function purchases(totals: Totals): number {
  return [...totals.values()].reduce((n, t) => n + t.count, 0);
}

/** The merged view soak left equals the test's own recount of the master dataset, stream files included. */
function expectMergedViewExact(data: string, report: Report): void {
  expect(loggedStreamFiles(data).length + (compactedMasterFiles(data).at(-1)?.last ?? 0)).toBeGreaterThan(0);
  const recount = recountMasterDataset(data);
  expect(plain(readMergedView(data))).toEqual(plain(recount));
  expect(purchases(recount)).toBe(report.purchasesInMasterDataset);
}

describe('soak', () => {
  it('runs the pipeline at a fixed rate and checks exactness, memory and outputs', async () => {
    const { root, data } = newTempRoot();
    const json = path.join(root, 'report.json');
    const result = await runCli(['soak', '--duration', '12s', '--rate', '20000', '--batch-every', '4s', '--threads', '2', '--data', data, '--json', json], {
      timeoutMs: 90_000,
    });
    expect(result.stdout).toMatch(/soak: PASS/);
    expect(result.code).toBe(0);
    const report = JSON.parse(fs.readFileSync(json, 'utf8')) as Report;
    expect(report.exact).toBe(true);
    expect(report.streamEventsGenerated).toBeGreaterThan(100_000);
    expect(report.purchasesInMergedView).toBe(report.purchasesInMasterDataset);
    expect(report.freshnessP99Ms).not.toBeNull();
    expect(report.checks.map((c) => c.name)).toEqual(['exact', 'every stream file ingested', 'memory bounded', 'speed outputs bounded', 'sampled']);
    expectMergedViewExact(data, report);
  });

  it('writes --files-per-second stream files and, with --batch-every never, runs the batch only at start', async () => {
    const { root, data } = newTempRoot();
    const json = path.join(root, 'report.json');
    const result = await runCli(
      ['soak', '--duration', '10s', '--rate', '2000', '--files-per-second', '10', '--batch-every', 'never', '--threads', '2', '--data', data, '--json', json],
      { timeoutMs: 90_000 },
    );
    expect(result.stdout).toMatch(/soak: PASS/);
    expect(result.stdout).toMatch(/batch at start only/);
    const report = JSON.parse(fs.readFileSync(json, 'utf8')) as Report;
    expect(report).toMatchObject({ filesPerSecond: 10, batchEveryMs: null, rssAfter10Min: null });
    // Ten files a second, less the start-up (the first batch) inside the measured time.
    expect(loggedStreamFiles(data).length).toBeGreaterThanOrEqual(60);
    expect(loggedStreamFiles(data).length).toBeLessThanOrEqual(101);
    // Over the whole elapsed time, start-up and the clean stop included.
    expect(report.filesPerSecondLogged).toBeGreaterThan(6);
    expect(report.filesPerSecondLogged).toBeLessThanOrEqual(loggedStreamFiles(data).length / 10);
    expect(report.rssByMinuteMB).toHaveLength(1);
    expect(fs.readdirSync(path.join(data, 'serving', 'batch')).filter((name) => name.startsWith('batch-'))).toHaveLength(1);
    expectMergedViewExact(data, report);
  });

  it('keeps the exact-once invariant when the pipeline is SIGKILLed and restarted, compacting as it runs', async () => {
    const { root, data } = newTempRoot();
    const json = path.join(root, 'report.json');
    // A 2 s window lets files older than 3 s be compacted within the run; a compaction 1 s after each start gets to
    // run in most of the restarted pipelines (each lives 0.75–3 s), and kills land mid-compaction too.
    const args = [
      'soak',
      '--duration',
      '14s',
      '--rate',
      '10000',
      '--kill-every',
      '3s',
      '--batch-every',
      '2s',
      '--window',
      '2s',
      '--slide',
      '1s',
      '--compact-every',
      '1s',
    ];
    const result = await runCli([...args, '--threads', '2', '--data', data, '--json', json], { timeoutMs: 90_000 });
    expect(result.stdout).toMatch(/soak: PASS/);
    expect(result.code).toBe(0);
    const report = JSON.parse(fs.readFileSync(json, 'utf8')) as Report;
    expect(report.kills).toBeGreaterThanOrEqual(2);
    expect(report.exact).toBe(true);
    expect(report.checks.find((c) => c.name === 'landing folder bounded')?.pass).toBe(true);
    expect(compactedMasterFiles(data).length).toBeGreaterThan(0);
    expectMergedViewExact(data, report);
  });
});
