// NATS JetStream end to end, publisher side, each figure checked before it is reported: events/s from publishing to
// the rows being in the speed layer's realtime head, and freshness from publishing one probe row to `/users/:id`
// answering it, under background load. Runs its own nats-server (JetStream, a temp store, a free loopback port) and
// `speed --source nats://…` and `serve` as separate processes; publishes from this one.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EventGenerator, type GeneratedCounts } from '../src/core/event-generator.js';
import { LambdaflowError } from '../src/core/errors.js';
import { partitionSubject } from '../src/core/nats-names.js';
import { count } from '../src/core/summary-format.js';
import { dataLayout } from '../src/io/files/layout.js';
import { silentLogger } from '../src/io/runtime/logger.js';
import { NatsLink } from '../src/io/nats/nats.js';
import { systemClock } from '../src/io/runtime/system-clock.js';
import { readRealtimeHead } from '../src/io/views/views.js';
import { machineDescription } from '../src/bench/report.js';
import { ChildProcesses } from '../src/bench/child-processes.js';
import { runScript } from '../src/bench/script.js';
import { resolveNatsBench } from '../src/bench/script-options.js';
import { percentile } from '../src/soak/measure.js';
import { freePort } from '../src/io/runtime/free-port.js';

const MAIN = fileURLToPath(new URL('../main.js', import.meta.url));
const NATS_SERVERS = ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'];
/** The stream the speed process reads (named on its command line) and the one subject published to. */
const STREAM = 'lambdaflow';
const SUBJECT = 'events.>';
const PUBLISHED_SUBJECT = partitionSubject(SUBJECT, 0);
const POLL_MS = 2;
const TIMEOUT_MS = 120_000;
const START_TIMEOUT_MS = 30_000;

async function until(what: string, predicate: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + TIMEOUT_MS;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new LambdaflowError('E_STATE', `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

const encoder = new TextEncoder();

async function main(): Promise<void> {
  const o = resolveNatsBench(process.argv.slice(2));
  const natsServer = NATS_SERVERS.find((file) => fs.existsSync(file));
  if (!natsServer) throw new LambdaflowError('E_INPUT', 'nats-server is not installed (apt-get install nats-server)');
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'lambdaflow-bench-nats-'));
  // Killed however the benchmark ends (Ctrl-C included): no nats-server, speed or serve outlives it.
  const children = new ChildProcesses();
  let link: NatsLink | undefined;
  try {
    const port = await freePort();
    const url = `nats://127.0.0.1:${port}`;
    await children
      .spawn('nats-server', natsServer, ['-js', '-sd', path.join(root, 'nats'), '-a', '127.0.0.1', '-p', String(port)])
      .waitForLine(/Server is ready/, START_TIMEOUT_MS);
    const data = path.join(root, 'data');
    const layout = dataLayout(data);
    const batchInterval = `${o.batchIntervalMs}ms`;
    await children
      .spawn('speed', process.execPath, [
        MAIN,
        'speed',
        '--data',
        data,
        '--create',
        '--source',
        url,
        '--nats-stream',
        STREAM,
        '--nats-subject',
        SUBJECT,
        '--batch-interval',
        batchInterval,
        '--threads',
        String(o.threads),
        '--log-level',
        'info',
      ])
      .waitForLine(/speed: recovered/, START_TIMEOUT_MS);
    link = await NatsLink.open([{ host: '127.0.0.1', port }], silentLogger, 'bench', systemClock);
    await link.ensureStream(STREAM, SUBJECT, undefined);
    const signal = new AbortController().signal;
    const generator = new EventGenerator(42, o.users);

    // 1. Throughput: o.rows rows in messages of o.rowsPerMessage, published as fast as acks come back (a few in flight).
    const messages: Uint8Array[] = [];
    const counts: GeneratedCounts = { rows: 0, purchases: 0 };
    for (let sent = 0; sent < o.rows; sent += o.rowsPerMessage)
      messages.push(encoder.encode(generator.lines(Math.min(o.rowsPerMessage, o.rows - sent), 1_700_000_000, 1_000, 0, counts)));
    const started = performance.now();
    const inFlight = 4;
    for (let i = 0; i < messages.length; i += inFlight) {
      await Promise.all(messages.slice(i, i + inFlight).map((bytes, j) => link!.publish(PUBLISHED_SUBJECT, bytes, `bulk-${i + j}`, signal)));
    }
    const publishedMs = performance.now() - started;
    await until('every row in the realtime head', () => (readRealtimeHead(layout.realtimeHead)?.rowsIngested ?? 0) >= counts.rows);
    const endToEndMs = performance.now() - started;
    const ingested = readRealtimeHead(layout.realtimeHead)!.rowsIngested!;
    if (ingested !== counts.rows) throw new LambdaflowError('E_STATE', `the speed layer read ${ingested} rows, ${counts.rows} were published`);

    // 2. Freshness: one probe row a user of its own, under background load, from the publish call to /users/:id answering it.
    const base = (
      await children
        .spawn('serve', process.execPath, [MAIN, 'serve', '--data', data, '--port', '0', '--interval', '5s', '--log-level', 'warn'])
        .waitForLine(/serve: listening on (http:\/\/\S+)/, START_TIMEOUT_MS)
    )[1]!;
    let stopLoad = false;
    const load = (async () => {
      const perTick = Math.round(o.backgroundRate / 10);
      for (let tick = 0; !stopLoad && perTick > 0; tick++) {
        const t = performance.now();
        await link.publish(
          PUBLISHED_SUBJECT,
          encoder.encode(generator.lines(perTick, 1_700_000_000, 1_000, 0, { rows: 0, purchases: 0 })),
          `load-${tick}`,
          signal,
        );
        await new Promise((r) => setTimeout(r, Math.max(0, 100 - (performance.now() - t))));
      }
    })();
    // Awaited below; if the probes fail first (or Ctrl-C stops the server), their error is the one reported.
    load.catch(() => undefined);
    const latencies: number[] = [];
    for (let i = 0; i < o.probes; i++) {
      const user = `probe-${i}`;
      const t = performance.now();
      await link.publish(PUBLISHED_SUBJECT, encoder.encode(`${user},purchase,1.23,1700000000\n`), `probe-${i}`, signal);
      for (;;) {
        const response = await fetch(`${base}/users/${user}`);
        if (response.status === 200) {
          const body = (await response.json()) as { purchase_count_total: number; purchase_amount_total: string };
          if (body.purchase_count_total !== 1 || body.purchase_amount_total !== '1.23')
            throw new LambdaflowError('E_STATE', `${user}: ${JSON.stringify(body)}`);
          break;
        }
        await response.arrayBuffer();
        if (performance.now() - t > TIMEOUT_MS) throw new LambdaflowError('E_STATE', `${user} never showed up`);
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
      latencies.push(performance.now() - t);
      await new Promise((r) => setTimeout(r, 50 + Math.random() * 100));
    }
    stopLoad = true;
    await load;

    const ms = (v: number | undefined): string => `${Math.round(v ?? NaN)} ms`;
    process.stdout.write(
      [
        `NATS JetStream end to end (${machineDescription()}; nats-server ${natsServer}; speed --batch-interval ${batchInterval} --threads ${o.threads})`,
        `throughput: ${count(counts.rows)} rows in ${count(messages.length)} messages of ${count(o.rowsPerMessage)} rows, ${count(o.users)} users: ` +
          `published in ${(publishedMs / 1000).toFixed(2)} s (${count(Math.round((counts.rows * 1000) / publishedMs))} rows/s), ` +
          `all in the realtime head after ${(endToEndMs / 1000).toFixed(2)} s: ${count(Math.round((counts.rows * 1000) / endToEndMs))} events/s end to end (checked: ${count(ingested)} rows read)`,
        `freshness, publish → /users/:id (${o.probes} probes, background ${count(o.backgroundRate)} events/s): ` +
          `p50 ${ms(percentile(latencies, 50))}, p90 ${ms(percentile(latencies, 90))}, p99 ${ms(percentile(latencies, 99))}, max ${ms(Math.max(...latencies))}`,
      ].join('\n') + '\n',
    );
  } finally {
    await link?.close();
    await children.stopAll();
    fs.rmSync(root, { recursive: true, force: true });
  }
}

runScript('bench/nats', main);
