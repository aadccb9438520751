// The speed layer as the pipeline runs it: its options turned into a source and a stream layout, and the real ports
// (the ingest log, parse threads, speed workers, delta and view files, the watcher or NATS) wired around SpeedLayer.

import fs from 'node:fs';
import path from 'node:path';
import { type NatsAddress, partitionSubject } from '../core/nats-names.js';
import { removeStaleTemps } from '../io/files/atomic.js';
import { LoggedFiles } from '../io/logs/compactions.js';
import { DELTA_PATTERN, DeltaFiles } from '../io/views/deltas.js';
import { EVENT_WINDOW_STATE_FILE, EventWindowStateFile } from '../io/views/event-window-state.js';
import { IngestLogWriter, readIngestLog } from '../io/logs/ingest-log.js';
import { DEFAULT_STREAM, type DataLayout, QUARANTINE_FILE, streamLayout } from '../io/files/layout.js';
import { acquireLock } from '../io/files/lock.js';
import type { NatsLink } from '../io/nats/nats.js';
import { writeLateRows } from '../io/logs/late-rows.js';
import { writeQuarantine } from '../io/logs/quarantine.js';
import { StreamFiles } from '../io/files/stream-files.js';
import { CombinedSource } from '../speed/combined-source.js';
import { type IngestAppender, type StreamSource } from '../speed/ports.js';
import { SpeedViewFiles } from '../speed/publish.js';
import { SpeedLayer, type SpeedObservers } from '../speed/speed-layer.js';
import { SpeedWorkers } from '../speed/speed-workers.js';
import { StreamParserPool } from '../speed/stream-parser-pool.js';
import { type LayerEnvironment, type SourceOptions, type SpeedOptions } from './layer-config.js';

/** Where a speed layer's stream comes from: files renamed into stream_input/, or a NATS JetStream subject. */
export type SpeedSource =
  | { readonly kind: 'files' }
  | {
      readonly kind: 'nats';
      readonly servers: readonly NatsAddress[];
      /** The JetStream stream, created over streamSubject if missing (with `replicas`, or checked to have them). */
      readonly stream: string;
      readonly replicas: number | undefined;
      readonly streamSubject: string;
      /** The durable consumer and the subject it reads (a partition's, or the whole stream's). */
      readonly consumer: string;
      readonly filterSubject: string;
    };

/** How one run of the speed layer is driven and observed. */
export interface SpeedRun extends SpeedObservers {
  readonly signal: AbortSignal;
  /** Ingest what is complete, publish, and return at once (`speed --once`) instead of running until the signal. */
  readonly once?: boolean;
}

/** The stream's layout (the data folder's, or a NATS partition's) and the source the speed layer reads, from the source options. */
function speedSource(layout: DataLayout, source: SourceOptions | undefined): { layout: DataLayout; source: SpeedSource } {
  if (source === undefined || source.kind === 'files') return { layout, source: { kind: 'files' } };
  const { servers, stream, replicas, subject, consumer, partition } = source;
  if (partition === undefined) return { layout, source: { kind: 'nats', servers, stream, replicas, streamSubject: subject, consumer, filterSubject: subject } };
  return {
    layout: streamLayout(layout, partition),
    source: {
      kind: 'nats',
      servers,
      stream,
      replicas,
      streamSubject: subject,
      consumer: `${consumer}-p${partition}`,
      filterSubject: partitionSubject(subject, partition),
    },
  };
}

/**
 * Runs the speed layer on the data folder until the signal aborts (or once), then ingests what is complete, publishes,
 * and returns: the `speed` command, `all` (so soak) and the speed benchmark.
 */
export async function runSpeedLayer(environment: LayerEnvironment, options: SpeedOptions, run: SpeedRun): Promise<void> {
  const { clock, logger, threads, mode, bucketSeconds } = environment;
  const { window } = options;
  const { layout, source: from } = speedSource(environment.layout, options.source);
  for (const dir of [layout.streamInput, layout.servingSpeed, layout.realtimeDeltas]) await fs.promises.mkdir(dir, { recursive: true });
  const lock = acquireLock(layout.speedLock, 'speed layer');
  let workers: SpeedWorkers | undefined;
  let parser: StreamParserPool | undefined;
  let log: IngestLogWriter | undefined;
  let source: StreamSource | undefined;
  let watch: (() => void) | undefined;
  let link: NatsLink | undefined;
  try {
    // A NATS server that cannot be reached fails the start within seconds, before any thread starts.
    // The NATS client loads only when used (~35 ms of every start otherwise).
    const natsModules = from.kind === 'nats' ? await Promise.all([import('../io/nats/nats.js'), import('../speed/nats-source.js')]) : undefined;
    if (from.kind === 'nats') link = await natsModules![0].NatsLink.open(from.servers, logger, 'speed', clock);
    await removeStaleTemps(layout.servingSpeed);
    const eventWindowState = path.join(path.dirname(layout.speedLock), EVENT_WINDOW_STATE_FILE);
    // This folder's owner at start: what a crash left mid-write (write-file-atomic's temps too) goes.
    await removeStaleTemps(layout.servingRealtime, '', path.basename(layout.realtimeHead));
    await removeStaleTemps(layout.realtimeDeltas, '', DELTA_PATTERN);
    await removeStaleTemps(layout.quarantine, '', QUARANTINE_FILE);
    await removeStaleTemps(path.dirname(eventWindowState), '', path.basename(eventWindowState));
    await removeStaleTemps(layout.lateRows);
    const opened = IngestLogWriter.open(layout.ingestLog);
    log = opened.writer;
    const loggedFiles = new LoggedFiles(layout);
    const writer = log;
    const appender: IngestAppender = {
      append: (files, atMs) => writer.append(files, atMs),
      foldCompacted: () => {
        const { removedThrough } = loggedFiles.refresh();
        return removedThrough > writer.compactedThrough ? writer.fold(removedThrough) : [];
      },
      foldedEntries: (afterSeq, throughSeq) => loggedFiles.compactedEntries(afterSeq, Math.min(throughSeq, writer.compactedThrough)),
    };
    // Entries a finished compaction removed are folded before anything reads them.
    appender.foldCompacted();
    const { entries, lastSeq } = readIngestLog(layout.ingestLog);
    // The parse pool's threads start while the speed workers do.
    parser = new StreamParserPool(loggedFiles, threads, threads, mode, bucketSeconds, options.eventWindow?.slideSeconds);
    workers = await SpeedWorkers.start(threads, window.slidesPerWindow, layout.realtimeDeltas, bucketSeconds);
    // The default stream takes stream_input/ files (with NATS too: replays of quarantined rows); a partition stream only NATS.
    const nats = from.kind === 'nats' ? await natsModules![1].NatsSource.open({ ...from, layout, link: link!, logger, clock }, entries) : undefined;
    if (nats && layout.stream !== DEFAULT_STREAM) source = nats;
    else {
      const files = new StreamFiles(
        { dir: layout.streamInput, clock, logger, listEveryMs: window.slideMs },
        entries.map((entry) => entry.name),
      );
      source = nats ? new CombinedSource(files, nats) : files;
      watch = () => files.watch();
    }
    const speed = new SpeedLayer(
      {
        clock,
        source,
        log: appender,
        parser,
        partitions: workers,
        deltas: new DeltaFiles(layout.realtimeDeltas, bucketSeconds),
        outputs: new SpeedViewFiles(layout, logger, options.keepViews),
        logger,
        quarantine: (entry, file) => writeQuarantine(layout, entry.name, file.badRows).then(() => undefined),
        late: (entry, watermark, rows) => writeLateRows(layout, entry.name, watermark, rows).then(() => undefined),
        mode,
        // Beside the ingest log and the lock: the stream's own state, not a published output.
        eventWindowStore: new EventWindowStateFile(eventWindowState),
      },
      window,
      run,
      options.allowedLatenessSeconds,
      options.eventWindow,
    );
    await speed.recover(entries, lastSeq);
    if (!run.once) watch?.();
    await speed.run(run.once ? AbortSignal.abort() : run.signal);
  } finally {
    await source?.close();
    await link?.close();
    await workers?.stop();
    await parser?.close();
    log?.close();
    lock.release();
  }
}
