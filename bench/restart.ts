// Bounded recovery: a speed layer with 100,000 ingested stream files (no batch recompute) restarts from its newest
// checkpoint plus the deltas after it; timed (process start to exit of `speed --once`, an upper bound of the time to
// its first published head) with its peak RSS, before and after compaction. Totals checked against a recount.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LambdaflowError } from '../src/core/errors.js';
import { count } from '../src/core/summary-format.js';
import { dataLayout } from '../src/io/files/layout.js';
import { readIngestLog } from '../src/io/logs/ingest-log.js';
import { readRealtimeHead } from '../src/io/views/views.js';
import { mainScriptPath, runMeasured } from '../src/bench/measure.js';
import { formatTable, machineDescription } from '../src/bench/report.js';
import { runScript } from '../src/bench/script.js';
import { resolveRestartBench } from '../src/bench/script-options.js';
import { differences, readMergedViewTable, recountMasterDataset } from '../src/soak/recount.js';

/** The restart targets of the lifecycle issue. */
const TARGET_SECONDS = 2;
const TARGET_RSS_MIB = 250;

const cli = (dir: string, ...args: string[]): Promise<{ wallMs: number; peakRssBytes: number | undefined }> =>
  runMeasured(process.execPath, [mainScriptPath(), ...args, '--data', dir, '--log-level', 'warn'], args.join(' '));

runScript('bench:restart', async () => {
  const { files, perBatch, users } = resolveRestartBench(process.argv.slice(2));
  console.log(`machine: ${machineDescription()}`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lambdaflow-bench-restart-'));
  const layout = dataLayout(dir);
  try {
    fs.mkdirSync(layout.streamInput, { recursive: true });
    console.log(`ingesting ${count(files)} stream files, ${perBatch} per speed --once (one micro-batch and one delta file each) ...`);
    let seed = 7;
    const random = (): number => (seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0) / 2 ** 32;
    for (let done = 0; done < files; done += perBatch) {
      for (let i = done; i < Math.min(files, done + perBatch); i++) {
        const user = `u${Math.floor(random() * users)}`;
        fs.writeFileSync(
          path.join(layout.streamInput, `chunk-${String(i).padStart(7, '0')}.csv`),
          `${user},purchase,${Math.floor(random() * 100)}.${String(i % 100).padStart(2, '0')},1700000000\n${user},view,0,1700000000\n`,
        );
      }
      await cli(dir, 'speed', '--once');
    }
    if (readIngestLog(layout.ingestLog).lastSeq !== files)
      throw new LambdaflowError('E_STATE', `only ${readIngestLog(layout.ingestLog).lastSeq} of ${files} files were logged`);
    const rows: string[][] = [];
    const restart = async (what: string): Promise<void> => {
      const run = await cli(dir, 'speed', '--once');
      if (readRealtimeHead(layout.realtimeHead)?.throughSeq !== files)
        throw new LambdaflowError('E_STATE', `${what}: the realtime head does not reach seq ${files}`);
      const rss = run.peakRssBytes === undefined ? undefined : run.peakRssBytes / 2 ** 20;
      const s = run.wallMs / 1000;
      rows.push([what, s.toFixed(2), rss === undefined ? 'unknown' : rss.toFixed(0), s <= TARGET_SECONDS && (rss ?? 0) <= TARGET_RSS_MIB ? 'PASS' : 'MISS']);
    };
    await restart(`${count(files)} logged files in stream_input/`);
    await restart('again (page cache warm)');
    const compacted = await cli(dir, 'compact', '--min-age', '0');
    console.log(`compact: ${(compacted.wallMs / 1000).toFixed(2)} s; stream_input/ now holds ${fs.readdirSync(layout.streamInput).length} files`);
    await restart('after compaction (log folded)');
    await cli(dir, 'merge', '--once');
    const diffs = differences(readMergedViewTable(layout), recountMasterDataset(layout));
    if (diffs.length > 0) throw new LambdaflowError('E_STATE', `merged_view.csv differs from a recount: ${diffs.join('; ')}`);
    console.log(`verified: merged_view.csv equals a recount of the master dataset (${count(files)} stream files)`);
    console.log(`restart = speed --once with nothing new, process start to exit (targets: ≤ ${TARGET_SECONDS} s, ≤ ${TARGET_RSS_MIB} MiB):`);
    for (const line of formatTable(['state', 'seconds', 'peak RSS MiB', 'target'], rows)) console.log(line);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
