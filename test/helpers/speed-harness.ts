// The speed layer's ports in memory: stream files in a Map, an ingest log in an array, deltas and published views
// kept as data, slide rings in-process. Lets a test drive hundreds of micro-batches in milliseconds.

import { type AggBlock, UserAggTable } from '../../src/core/agg-table.js';
import { LambdaflowError } from '../../src/core/errors.js';
import { type DeltaRange } from '../../src/core/exact-merge.js';
import { parseWhole, totalBad } from '../../src/core/event-parser.js';
import { SlidingWindow } from '../../src/core/window.js';
import { type IngestEntry } from '../../src/io/ingest-log.js';
import { silentLogger } from '../../src/io/logger.js';
import type { DeltaStore, IngestAppender, LoggedFileReader, NewFile, ParsedFile, RealtimeSnapshot, SeqTotals, SlideStore, SpeedCounters, SpeedOutputs, StreamSource } from '../../src/speed/ports.js';
import { type SpeedPorts } from '../../src/speed/speed-layer.js';
import { ManualClock } from './manual-clock.js';

/** stream_input/ as a Map of name → bytes and modification time. */
export class MemoryStream implements StreamSource {
  readonly files = new Map<string, { bytes: Buffer; mtimeMs: number }>();
  private readonly loggedNames = new Set<string>();

  put(name: string, text: string, mtimeMs: number): void {
    this.files.set(name, { bytes: Buffer.from(text), mtimeMs });
  }

  async newFiles(): Promise<NewFile[]> {
    return [...this.files.entries()]
      .filter(([name]) => !this.loggedNames.has(name))
      .map(([name, f]) => ({ name, size: f.bytes.length, mtimeMs: f.mtimeMs }))
      .sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  logged(names: readonly string[]): void {
    for (const name of names) this.loggedNames.add(name);
  }

  async close(): Promise<void> {}
}

export class MemoryLog implements IngestAppender {
  readonly entries: IngestEntry[] = [];
  failNext = false;

  append(files: readonly { name: string; size: number }[], ingestedAtMs: number): IngestEntry[] {
    if (this.failNext && files.length > 0) {
      this.failNext = false;
      throw new LambdaflowError('E_WRITE', 'cannot append to the ingest log: disk full (simulated)');
    }
    const added = files.map((f, i) => ({ seq: this.entries.length + i + 1, name: f.name, size: f.size, ingestedAtMs }));
    this.entries.push(...added);
    return added;
  }
}

export class MemoryReader implements LoggedFileReader {
  constructor(private readonly stream: MemoryStream) {}

  async read(entry: IngestEntry): Promise<ParsedFile> {
    const file = this.stream.files.get(entry.name)!;
    const table = new UserAggTable(64);
    const parser = parseWhole(file.bytes.subarray(0, entry.size), table, { mode: 'drop' });
    return { entry, table, rows: parser.counts.rows, badRows: totalBad(parser.counts) };
  }
}

/** The speed workers' rings, one SlidingWindow per partition, in this thread. */
export class MemorySlides implements SlideStore {
  private readonly rings: SlidingWindow[];

  constructor(
    readonly partitions: number,
    slidesPerWindow: number,
  ) {
    this.rings = Array.from({ length: partitions }, () => new SlidingWindow(slidesPerWindow));
  }

  add(slide: number, blocks: readonly AggBlock[]): void {
    blocks.forEach((block, p) => {
      if (block.counts.length > 0) this.rings[p]!.add(slide, block);
    });
  }

  async windows(slide: number): Promise<AggBlock[]> {
    return this.rings.map((ring) => ring.windowBefore(slide).toBlock());
  }
}

/** Delta "files" that survive a simulated crash (the test keeps the object across restarts). */
export class MemoryDeltas implements DeltaStore {
  readonly bySeq = new Map<number, AggBlock>();
  failWrites = 0;

  async write(items: readonly SeqTotals[]): Promise<void> {
    if (this.failWrites > 0) {
      this.failWrites--;
      throw new LambdaflowError('E_WRITE', 'cannot write a delta: disk full (simulated)');
    }
    for (const { seq, block } of items) this.bySeq.set(seq, block);
  }

  merge(range: DeltaRange, table: UserAggTable): Set<number> {
    const found = new Set<number>();
    for (let seq = range.afterSeq + 1; seq <= range.throughSeq; seq++) {
      const block = this.bySeq.get(seq);
      if (!block) continue;
      table.mergeBlock(block, range.sign);
      found.add(seq);
    }
    return found;
  }

  prune(throughSeq: number): void {
    for (const seq of this.bySeq.keys()) if (seq <= throughSeq) this.bySeq.delete(seq);
  }

  covered(): Set<number> {
    return new Set(this.bySeq.keys());
  }
}

/** Published views kept as data; batch watermarks set by the test (as if `batch` ran). */
export class MemoryOutputs implements SpeedOutputs {
  watermarks: number[] = [];
  realtime: (RealtimeSnapshot & SpeedCounters & { atMs: number }) | undefined;
  readonly windows = new Map<number, AggBlock[]>();
  failRealtime = 0;

  batchWatermarks(): number[] {
    return this.watermarks;
  }

  async publishRealtime(snapshot: RealtimeSnapshot & SpeedCounters, atMs: number): Promise<void> {
    if (this.failRealtime > 0) {
      this.failRealtime--;
      throw new LambdaflowError('E_WRITE', 'cannot publish: disk full (simulated)');
    }
    this.realtime = { ...snapshot, atMs };
  }

  async publishWindow(endMs: number, blocks: readonly AggBlock[]): Promise<number> {
    this.windows.set(endMs, [...blocks]);
    return blocks.reduce((n, b) => n + b.counts.length, 0);
  }
}

/** A complete in-memory speed layer world; `restart()` keeps what is durable (files, log, deltas, batch views). */
export function memoryPorts(partitions: number, slidesPerWindow: number, clock = new ManualClock()) {
  const stream = new MemoryStream();
  const log = new MemoryLog();
  const deltas = new MemoryDeltas();
  const outputs = new MemoryOutputs();
  const ports = (): SpeedPorts => ({
    clock,
    source: stream,
    log,
    reader: new MemoryReader(stream),
    slides: new MemorySlides(partitions, slidesPerWindow),
    deltas,
    outputs,
    logger: silentLogger,
  });
  return { clock, stream, log, deltas, outputs, ports };
}
