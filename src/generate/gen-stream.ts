// gen-stream: writes a CSV chunk into stream_input/ every interval, each atomically (hidden temp name, fsync, rename).

import fs from 'node:fs';
import { type Clock } from '../core/clock.js';
import { EventGenerator, type GeneratedCounts, type StreamStamps } from '../core/event-generator.js';
import { partitionOf } from '../core/hash.js';
import { type NatsAddress, partitionSubject } from '../core/nats-names.js';
import { type Logger, silentLogger } from '../io/runtime/logger.js';
import type { NatsLink } from '../io/nats/nats.js';
import { sleep } from '../io/runtime/sleep.js';
import { FileInProgress, removeStaleTemps, writeError } from '../io/files/atomic.js';

/** Where generated chunks go instead of stream_input/: a NATS JetStream stream, one subject per partition. */
export interface NatsSinkConfig {
  /** A server, or servers of one cluster (published to through whichever is up). */
  readonly servers: readonly NatsAddress[];
  readonly stream: string;
  /** The stream's replicas, created with or checked (undefined: created with 1, an existing one used as it is). */
  readonly replicas: number | undefined;
  /** The stream's subjects (`events.>`): a user's rows go to `events.<partitionOf(user, partitions)>`. */
  readonly subject: string;
  readonly partitions: number;
}

export interface GenStreamConfig {
  /** Undefined: files in stream_input/. */
  readonly sink?: NatsSinkConfig;
  readonly intervalMs: number;
  readonly rowsPerChunk: number;
  /** Undefined: forever. */
  readonly chunks: number | undefined;
  readonly users: number;
  readonly seed: number;
  /** How rows are stamped: up to some seconds before now, a fraction of them late. */
  readonly stamps: StreamStamps;
}

export interface StreamChunk {
  readonly name: string;
  readonly rows: number;
  readonly purchases: number;
  /** When the chunk became visible (renamed into place). */
  readonly renamedAtMs: number;
}

/** Chunk names sort in creation order: zero-padded time, then a counter for chunks within one millisecond. */
export function chunkName(timeMs: number, counter: number): string {
  return `chunk-${String(timeMs).padStart(15, '0')}-${String(counter).padStart(6, '0')}.csv`;
}

export class StreamWriter {
  private readonly generator: EventGenerator;
  private counter = 0;
  readonly totals: GeneratedCounts = { rows: 0, purchases: 0 };

  constructor(
    private readonly dir: string,
    private readonly config: GenStreamConfig,
    private readonly clock: Clock,
  ) {
    this.generator = new EventGenerator(config.seed, config.users);
    fs.mkdirSync(dir, { recursive: true });
  }

  /**
   * Writes one chunk of `rows` rows stamped with the current time. `appendedLines` (whole lines, e.g. a benchmark's
   * marker row) follow the generated rows in the same file and are not counted in the totals.
   */
  writeChunk(rows = this.config.rowsPerChunk, appendedLines = ''): StreamChunk {
    const now = this.clock.now();
    const counts: GeneratedCounts = { rows: 0, purchases: 0 };
    const text = this.generator.streamLines(rows, Math.floor(now / 1000), this.config.stamps, counts) + appendedLines;
    const name = chunkName(now, this.counter++);
    const file = FileInProgress.create(this.dir, name);
    try {
      fs.writeSync(file.fd, text);
      file.sync();
    } catch (cause) {
      file.discard();
      throw writeError(file.tempPath, cause);
    }
    // Taken before the rename, so that a freshness measured from it never leaves out the file's arrival.
    const renamedAtMs = this.clock.now();
    file.publish(name);
    this.totals.rows += counts.rows;
    this.totals.purchases += counts.purchases;
    return { name, ...counts, renamedAtMs };
  }
}

const encoder = new TextEncoder();

/**
 * Publishes chunks to NATS: each chunk's rows split by the partition of their user, one message per partition with
 * rows, to the partition's subject, with the message id `<seed>-<chunk>-<partition>` so that JetStream keeps one copy
 * of a publish retried (or of a rerun with the same seed) within its duplicate window.
 */
export class NatsChunkPublisher {
  private readonly generator: EventGenerator;
  private counter = 0;
  readonly totals: GeneratedCounts = { rows: 0, purchases: 0 };

  private constructor(
    private readonly link: NatsLink,
    private readonly config: GenStreamConfig & { readonly sink: NatsSinkConfig },
    private readonly clock: Clock,
  ) {
    this.generator = new EventGenerator(config.seed, config.users);
  }

  static async open(config: GenStreamConfig & { readonly sink: NatsSinkConfig }, clock: Clock, logger: Logger): Promise<NatsChunkPublisher> {
    // The NATS client loads only when publishing to NATS.
    const { NatsLink } = await import('../io/nats/nats.js');
    const link = await NatsLink.open(config.sink.servers, logger, 'gen-stream', clock);
    try {
      await link.ensureStream(config.sink.stream, config.sink.subject, config.sink.replicas);
    } catch (error) {
      await link.close();
      throw error;
    }
    return new NatsChunkPublisher(link, config, clock);
  }

  async publishChunk(signal: AbortSignal, rows = this.config.rowsPerChunk): Promise<StreamChunk> {
    const { sink, seed } = this.config;
    const counts: GeneratedCounts = { rows: 0, purchases: 0 };
    const text = this.generator.streamLines(rows, Math.floor(this.clock.now() / 1000), this.config.stamps, counts);
    const byPartition: string[][] = Array.from({ length: sink.partitions }, () => []);
    for (const line of text.split('\n')) {
      if (line !== '') byPartition[partitionOf(line.slice(0, line.indexOf(',')), sink.partitions)]!.push(`${line}\n`);
    }
    const chunk = this.counter++;
    const seqs: number[] = [];
    for (const [partition, lines] of byPartition.entries()) {
      if (lines.length === 0) continue;
      seqs.push(await this.link.publish(partitionSubject(sink.subject, partition), encoder.encode(lines.join('')), `${seed}-${chunk}-${partition}`, signal));
    }
    this.totals.rows += counts.rows;
    this.totals.purchases += counts.purchases;
    const where = seqs.length === 0 ? 'nothing' : `stream seq ${Math.min(...seqs)}..${Math.max(...seqs)}`;
    return { name: `${sink.stream} chunk ${chunk} (${where})`, ...counts, renamedAtMs: this.clock.now() };
  }

  close(): Promise<void> {
    return this.link.close();
  }
}

/** Writes chunks every interval (or publishes them, with a NATS sink) until `chunks` are written or the signal aborts. */
export async function runStreamGenerator(
  dir: string,
  config: GenStreamConfig,
  clock: Clock,
  signal: AbortSignal,
  onChunk?: (chunk: StreamChunk) => void,
  logger: Logger = silentLogger,
): Promise<GeneratedCounts> {
  const sink = config.sink;
  const publisher = sink ? await NatsChunkPublisher.open({ ...config, sink }, clock, logger) : undefined;
  // The temps of a generator killed mid-write (each carries its writer's pid).
  if (!publisher) await removeStaleTemps(dir);
  const writer = publisher ?? new StreamWriter(dir, config, clock);
  try {
    await generate(writer, config, clock, signal, onChunk);
  } finally {
    await publisher?.close();
  }
  return writer.totals;
}

async function generate(
  writer: StreamWriter | NatsChunkPublisher,
  config: GenStreamConfig,
  clock: Clock,
  signal: AbortSignal,
  onChunk?: (chunk: StreamChunk) => void,
): Promise<void> {
  for (let i = 0; config.chunks === undefined || i < config.chunks; i++) {
    if (signal.aborted) break;
    const started = clock.now();
    const chunk = writer instanceof StreamWriter ? writer.writeChunk() : await writer.publishChunk(signal);
    onChunk?.(chunk);
    if (config.chunks !== undefined && i + 1 === config.chunks) break;
    await sleep(Math.max(0, config.intervalMs - (clock.now() - started)), signal);
  }
}
