// The speed layer's ports in memory: stream files in a Map, an ingest log in an array, deltas and published views
// kept as data, partitions in-process (the speed workers' own PartitionState). Lets a test drive hundreds of
// micro-batches in milliseconds.

import { type AggBlock, UserAggTable } from '../../src/core/agg-table.js';
import { LambdaflowError } from '../../src/core/errors.js';
import { type DeltaRange } from '../../src/core/exact-merge.js';
import { EventParser, parserOptionsFor } from '../../src/core/event-parser.js';
import { bucketField, bucketFieldOf, forEachViewLine } from '../../src/core/view-format.js';
import { type IngestEntry } from '../../src/io/logs/ingest-log.js';
import { silentLogger } from '../../src/io/runtime/logger.js';
import { PartitionState } from '../../src/speed/partition-state.js';
import type {
  DeltaStore,
  IngestAppender,
  LateRowsRequest,
  NewFile,
  PartitionStore,
  RealtimeCheckpoint,
  RealtimeHead,
  SpeedOutputs,
  StreamParse,
  StreamParser,
  StreamSource,
} from '../../src/speed/ports.js';
import { type SpeedPorts } from '../../src/speed/speed-layer.js';
import { lateRowsOf, parseStreamFiles } from '../../src/speed/stream-parse.js';
import { type LateRow } from '../../src/io/logs/late-rows.js';
import { type UnitEventTime, eventClockOf } from '../../src/core/event-time.js';
import { ManualClock } from './manual-clock.js';

/** The bucket size of the in-memory world's data folder. */
export const MEMORY_BUCKET_SECONDS = 3_600;

/** stream_input/ as a Map of name → bytes and modification time. */
export class MemoryStream implements StreamSource {
  readonly files = new Map<string, { bytes: Buffer; mtimeMs: number }>();
  private readonly loggedNames = new Set<string>();
  /** Set by a test: since when the source cannot read (as a NATS source whose cluster does not answer). */
  unreadableSince: number | null = null;

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

  forget(): void {}

  unreadableSinceMs(): number | null {
    return this.unreadableSince;
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

  foldCompacted(): string[] {
    return [];
  }

  foldedEntries(): IngestEntry[] {
    return [];
  }
}

/** The parse threads' work, in this thread, on the in-memory files (the same parseStreamFiles the threads run). */
export class MemoryParser implements StreamParser {
  constructor(
    private readonly stream: MemoryStream,
    private readonly partitions: number,
  ) {}

  async lateRows(requests: readonly LateRowsRequest[]): Promise<LateRow[][]> {
    return requests.map(({ entry, threshold }) =>
      lateRowsOf({ seq: entry.seq, path: entry.name, start: 0, end: entry.size }, threshold, (onGoodRow) => {
        const bytes = this.stream.files.get(entry.name)!.bytes.subarray(0, entry.size);
        const parser = new EventParser({ add() {} }, { ...parserOptionsFor('drop', true, 0), onGoodRow });
        parser.consume(bytes, 0, bytes.length, true);
        return { lineCount: parser.lineCount, counts: parser.counts, badRows: parser.badRows, truncated: false };
      }),
    );
  }

  async parse(entries: readonly IngestEntry[]): Promise<StreamParse[]> {
    const files = entries.map((entry) => ({ seq: entry.seq, path: entry.name, start: 0, end: entry.size }));
    return [
      parseStreamFiles(files, this.partitions, 'drop', MEMORY_BUCKET_SECONDS, (file, table, mode) => {
        const bytes = this.stream.files.get(file.path)!.bytes.subarray(file.start, file.end);
        const parser = new EventParser(table, parserOptionsFor(mode, true, MEMORY_BUCKET_SECONDS));
        parser.consume(bytes, 0, bytes.length, true);
        return { lineCount: parser.lineCount, counts: parser.counts, badRows: parser.badRows, truncated: false };
      }),
    ];
  }
}

/** Delta "files" that survive a simulated crash (the test keeps the object across restarts). */
export class MemoryDeltas implements DeltaStore {
  private readonly files: { first: number; last: number; lines: Uint8Array; units: readonly UnitEventTime[] }[] = [];
  failWrites = 0;

  async write(first: number, last: number, lines: Uint8Array, units: readonly UnitEventTime[] = []): Promise<void> {
    if (this.failWrites > 0) {
      this.failWrites--;
      throw new LambdaflowError('E_WRITE', 'cannot write a delta: disk full (simulated)');
    }
    this.files.push({ first, last, lines: Uint8Array.from(lines), units: [...units] });
  }

  eventTimes(afterSeq: number, throughSeq: number): Map<number, UnitEventTime> {
    const found = new Map<number, UnitEventTime>();
    for (const { first, units } of this.files) units.forEach((unit, i) => first + i > afterSeq && first + i <= throughSeq && found.set(first + i, unit));
    return found;
  }

  forEachLine(
    afterSeq: number,
    throughSeq: number,
    accept: (seq: number, key: Uint8Array, start: number, end: number, count: number, cents: number, bucket: number) => void,
  ): Set<number> {
    const found = new Set<number>();
    for (const { first, last, lines } of this.files) {
      if (last <= afterSeq || first > throughSeq) continue;
      const onLine = (prefix: readonly number[], key: Uint8Array, start: number, end: number, count: number, cents: number, bucket: number): void => {
        const seq = prefix[0]!;
        if (seq > afterSeq && seq <= throughSeq && !found.has(seq)) accept(seq, key, start, end, count, cents, bucket);
      };
      forEachViewLine(lines, 'delta', 1, onLine, { buckets: bucketField(MEMORY_BUCKET_SECONDS) });
      for (let seq = Math.max(first, afterSeq + 1); seq <= Math.min(last, throughSeq); seq++) found.add(seq);
    }
    return found;
  }

  prune(throughSeq: number): void {
    for (let i = this.files.length - 1; i >= 0; i--) if (this.files[i]!.last <= throughSeq) this.files.splice(i, 1);
  }

  /** Memory is never damaged. */
  removeDamaged(): string[] {
    return [];
  }

  covered(): Set<number> {
    const covered = new Set<number>();
    for (const { first, last } of this.files) for (let seq = first; seq <= last; seq++) covered.add(seq);
    return covered;
  }
}

/** The speed workers in this thread: one PartitionState each, reading deltas from the in-memory store. */
export class MemoryPartitions implements PartitionStore {
  readonly states: PartitionState[];

  constructor(
    readonly partitions: number,
    slidesPerWindow: number,
    private readonly deltas: MemoryDeltas,
  ) {
    this.states = Array.from({ length: partitions }, (_, p) => new PartitionState(p, partitions, slidesPerWindow, MEMORY_BUCKET_SECONDS));
  }

  add(blocks: readonly AggBlock[], slide: number | null, realtime: boolean): void {
    blocks.forEach((block, p) => this.states[p]!.add(block, slide, realtime));
  }

  async windows(slide: number): Promise<{ bytes: Uint8Array; users: number }[]> {
    return this.states.map((state) => state.windowBefore(slide));
  }

  async applyDeltas(range: DeltaRange): Promise<ReadonlySet<number>> {
    const found = this.states.map((state) => state.applyDeltas((accept) => this.deltas.forEachLine(range.afterSeq, range.throughSeq, accept), range.sign));
    return found[0]!;
  }

  load(parts: readonly Uint8Array[], name: string): void {
    for (const state of this.states) state.loadView(parts, name);
  }

  clearRealtime(): void {
    for (const state of this.states) state.clearRealtime();
  }

  async realtimeParts(): Promise<{ bytes: Uint8Array; users: number }[]> {
    return this.states.map((state) => state.realtimeView());
  }
}

/** Published views kept as data; batch watermarks set by the test (as if `batch` ran). */
export class MemoryOutputs implements SpeedOutputs {
  watermarks: number[] = [];
  head: RealtimeHead | undefined;
  readonly checkpoints: (RealtimeCheckpoint & { atMs: number })[] = [];
  readonly windows = new Map<number, Uint8Array[]>();
  failHead = 0;

  batchWatermarks(): number[] {
    return this.watermarks;
  }

  async publishHead(head: RealtimeHead): Promise<void> {
    if (this.failHead > 0) {
      this.failHead--;
      throw new LambdaflowError('E_WRITE', 'cannot publish: disk full (simulated)');
    }
    this.head = head;
  }

  async publishCheckpoint(head: RealtimeHead, parts: readonly Uint8Array[], atMs: number): Promise<void> {
    this.checkpoints.push({
      name: `checkpoint-${atMs}`,
      watermark: head.watermark,
      throughSeq: head.throughSeq,
      lastIngestedAtMs: head.lastIngestedAtMs,
      parts: parts.map((p) => Uint8Array.from(p)),
      eventClock: eventClockOf(head.eventTime),
      atMs,
    });
  }

  latestCheckpoint(): RealtimeCheckpoint | undefined {
    return this.checkpoints.at(-1);
  }

  async publishWindow(endMs: number, parts: readonly Uint8Array[]): Promise<void> {
    this.windows.set(
      endMs,
      parts.map((p) => Uint8Array.from(p)),
    );
  }
}

/** View lines (as in a checkpoint's or a window's parts) summed into one table of users' totals over all time. */
export function tableOfParts(parts: readonly Uint8Array[]): UserAggTable {
  const table = new UserAggTable();
  for (const part of parts) {
    forEachViewLine(part, 'part', 0, (_p, key, start, end, count, cents) => table.add(key, start, end, count, cents), {
      firstLine: 'header-or-data',
      buckets: bucketFieldOf(part, MEMORY_BUCKET_SECONDS),
    });
  }
  return table;
}

/** A complete in-memory speed layer world; `ports()` again is a restart that keeps what is durable (files, log, deltas, views). */
export function memoryPorts(partitions: number, slidesPerWindow: number, clock = new ManualClock()) {
  const stream = new MemoryStream();
  const log = new MemoryLog();
  const deltas = new MemoryDeltas();
  const outputs = new MemoryOutputs();
  /** Late rows set aside, by file name: what `late/<name>.late` would hold. */
  const late = new Map<string, { watermark: number; rows: readonly LateRow[] }>();
  let current: MemoryPartitions | undefined;
  const ports = (): SpeedPorts => {
    current = new MemoryPartitions(partitions, slidesPerWindow, deltas);
    return {
      clock,
      source: stream,
      log,
      parser: new MemoryParser(stream, partitions),
      partitions: current,
      deltas,
      outputs,
      logger: silentLogger,
      quarantine: async () => undefined,
      late: async (entry, watermark, rows) => void late.set(entry.name, { watermark, rows }),
      mode: 'drop',
    };
  };
  return { clock, stream, log, deltas, outputs, late, ports, partitionsNow: () => current! };
}
