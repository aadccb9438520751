// The serving layer's figures, each against a baseline measured in the same run and checked before it is reported:
// point lookups against a bare node:http server (src/bench/serving-lookups.ts), range reads and /top against plain
// lookups (serving-ranges.ts), API and merged_view.csv freshness
// against the speed layer's own publish (serving-freshness.ts), serve's peak RSS (serving-memory.ts), and what a batch
// view swap does to lookups and to serve's event loop (serving-swap.ts); the report is serving-report.ts. Every layer
// runs as its own process.

import fs from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { LambdaflowError } from '../src/core/errors.js';
import { count } from '../src/core/summary-format.js';
import { writeFileAtomically } from '../src/io/files/atomic.js';
import { memoryOfPid } from '../src/soak/measure.js';
import { checkTotals, runBatchProcess } from '../src/bench/batch-runs.js';
import { ChildProcesses } from '../src/bench/child-processes.js';
import { prepareDataset } from '../src/bench/dataset.js';
import { formatMegabytes, machineDescription } from '../src/bench/report.js';
import { runScript } from '../src/bench/script.js';
import { resolveServingBench } from '../src/bench/script-options.js';
import { userPath } from '../src/bench/serve-api.js';
import { measureStream } from '../src/bench/serving-freshness.js';
import { CHECKED_LOOKUPS, checkLookups, measureLookups } from '../src/bench/serving-lookups.js';
import { measureRangeReads } from '../src/bench/serving-ranges.js';
import { RssByPhase } from '../src/bench/serving-memory.js';
import { type ServingReport, printReport, verdictsOf } from '../src/bench/serving-report.js';
import { agent, runFolder, startServe, viewTotals } from '../src/bench/serving-service.js';
import { Watchdog } from '../src/bench/watchdog.js';

const HTTP_LOAD_CLIENT = fileURLToPath(new URL('./http-load-client.js', import.meta.url));

runScript('bench:serving', async () => {
  const options = resolveServingBench(process.argv.slice(2));
  const print = (line: string): void => console.log(line);
  const machine = machineDescription();
  print(`machine: ${machine}`);
  const children = new ChildProcesses();
  const watchdog = new Watchdog();
  const dataset = await prepareDataset({ rows: options.rows, users: options.users }, print);
  print(`dataset: ${dataset.description}`);
  const layout = runFolder(dataset);
  const removeRunFolder = (): void => fs.rmSync(layout.root, { recursive: true, force: true });
  process.once('exit', removeRunFolder); // also after Ctrl-C, which ends the process without unwinding
  let rssByPhase: RssByPhase | undefined;
  try {
    const batch = await runBatchProcess(layout.root, os.availableParallelism());
    checkTotals(batch, batch.totals, dataset.expected);
    const users = viewTotals(batch.viewDir);
    if (users.length !== batch.totals.users)
      throw new LambdaflowError('E_STATE', `${batch.viewDir} holds ${users.length} users, its manifest says ${batch.totals.users}`);
    print(
      `batch view: ${count(users.length)} users, ${count(batch.totals.purchases)} purchases (batch took ${(batch.wallMs / 1000).toFixed(1)} s) in ${layout.root}`,
    );

    const { serve, origin } = await startServe(children, layout);
    watchdog.watch(serve.failed);
    const afterLoadBytes = memoryOfPid(serve.pid, 'VmRSS') ?? null;
    rssByPhase = new RssByPhase(serve.pid);
    const sample = await checkLookups(origin, users);
    print(
      `serve: ${origin}, ${count(Math.min(CHECKED_LOOKUPS, users.length))} random /users/:id answers equal the batch view; RSS ${formatMegabytes(afterLoadBytes ?? 0)} MB`,
    );

    const client = children.fork('http load client', HTTP_LOAD_CLIENT);
    watchdog.watch(client.failed);
    const paths = users.map((u) => userPath(u.userId));
    rssByPhase.phase = 'lookups';
    const lookups = await measureLookups(options, children, client, origin, paths, sample, watchdog, print);
    rssByPhase.phase = 'range reads';
    const topClient = children.fork('http load client for /top', HTTP_LOAD_CLIENT);
    watchdog.watch(topClient.failed);
    const ranges = await measureRangeReads(
      options,
      client,
      topClient,
      origin,
      batch.viewDir,
      users.map((u) => u.userId),
      paths,
      watchdog,
      print,
    );
    await topClient.stop();
    const batchFacts = { purchases: batch.totals.purchases, expected: dataset.expected };
    const { freshness, swap } = await measureStream(options, children, layout, client, origin, paths, batchFacts, watchdog, rssByPhase, print);
    const peakBytes = memoryOfPid(serve.pid, 'VmHWM') ?? null;
    rssByPhase.close();
    await children.stopAll();

    const report: ServingReport = {
      machine,
      options,
      dataset: dataset.description,
      batch: { users: users.length, purchases: batch.totals.purchases, seconds: batch.wallMs / 1000 },
      lookups,
      ranges,
      freshness,
      rss: { afterLoadBytes, peakBytes, highestSampleBytesByPhase: rssByPhase.highestBytes },
      swap,
    };
    const verdicts = verdictsOf(report);
    printReport(report, verdicts, print);
    if (options.json !== undefined) {
      await writeFileAtomically(options.json, JSON.stringify({ ...report, verdicts }, null, 2) + '\n');
      print(`wrote ${options.json}`);
    }
  } finally {
    rssByPhase?.close();
    agent.destroy();
    await children.stopAll();
    removeRunFolder();
  }
});
