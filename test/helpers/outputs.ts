// Reading what the pipeline wrote into a data folder: the merged view, batch views and their manifests, realtime
// views, the ingest log and quarantine files.
//
// Written from the README's formats alone (never imports src/), so a test compares the CLI's output with its own
// reading of it: view lines are `user_id,count,amount` with RFC 4180 quoting of the user id and amounts with exactly
// two decimals; a published directory is one with `_SUCCESS`.

import fs from 'node:fs';
import path from 'node:path';

/** Per-user totals: purchase count and amount in integer cents. */
export type Totals = Map<string, { count: number; cents: number }>;

/** Sorted plain object of totals, for readable toEqual diffs. */
export function plain(totals: Totals): Record<string, { count: number; cents: number }> {
  return Object.fromEntries([...totals].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([u, t]) => [u, { count: t.count, cents: t.cents }]));
}

/** Splits one CSV line (RFC 4180 quoting, no embedded newlines); throws on broken quoting. */
export function splitCsvLine(line: string): string[] {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let value = '';
      i++;
      for (;;) {
        const close = line.indexOf('"', i);
        if (close < 0) throw new Error(`unterminated quote in ${JSON.stringify(line)}`);
        value += line.slice(i, close);
        if (line[close + 1] === '"') {
          value += '"';
          i = close + 2;
        } else {
          i = close + 1;
          break;
        }
      }
      fields.push(value);
      if (i === line.length) return fields;
      if (line[i] !== ',') throw new Error(`text after a closing quote in ${JSON.stringify(line)}`);
      i++;
    } else {
      const comma = line.indexOf(',', i);
      if (comma < 0) {
        fields.push(line.slice(i));
        return fields;
      }
      fields.push(line.slice(i, comma));
      i = comma + 1;
    }
  }
}

function centsOf(amount: string, where: string): number {
  const m = /^(-?)(\d+)\.(\d\d)$/.exec(amount);
  if (!m) throw new Error(`${where}: amount ${JSON.stringify(amount)} does not have exactly two decimals`);
  const cents = Number(m[2]) * 100 + Number(m[3]);
  return m[1] === '-' ? -cents : cents;
}

/** Adds view lines (`user,count,amount`) to totals; `header` is checked and skipped when given. */
function addViewText(totals: Totals, textContent: string, where: string, header?: string): void {
  const lines = textContent.split('\n');
  if (header !== undefined && lines.shift() !== header) throw new Error(`${where}: bad header`);
  if (lines.at(-1) === '') lines.pop();
  let previous: string | undefined;
  lines.forEach((line, i) => {
    const fields = splitCsvLine(line);
    if (fields.length !== 3) throw new Error(`${where} line ${i + 1}: ${JSON.stringify(line)} is not user,count,amount`);
    const [user, count, amount] = fields as [string, string, string];
    if (!/^\d+$/.test(count)) throw new Error(`${where} line ${i + 1}: bad count ${count}`);
    if (previous !== undefined && !(previous < user))
      throw new Error(`${where}: not sorted by user_id (${JSON.stringify(previous)} then ${JSON.stringify(user)})`);
    previous = user;
    if (totals.has(user)) throw new Error(`${where}: user ${JSON.stringify(user)} listed twice`);
    totals.set(user, { count: Number(count), cents: centsOf(amount, `${where} line ${i + 1}`) });
  });
}

// ---------------------------------------------------------------------------------------------------------------
// The merged view.

export const MERGED_HEADER = 'user_id,purchase_count_total,purchase_amount_total';

/** `serving/view/merged_view.csv` as it is, for byte-exact comparisons. */
export function readMergedViewText(dataDir: string): string {
  return fs.readFileSync(path.join(dataDir, 'serving', 'view', 'merged_view.csv'), 'utf8');
}

/** The merged view as totals, after checking its header, quoting, order, counts and two-decimal amounts. */
export function readMergedView(dataDir: string): Totals {
  const totals: Totals = new Map();
  addViewText(totals, readMergedViewText(dataDir), path.join(dataDir, 'serving', 'view', 'merged_view.csv'), MERGED_HEADER);
  return totals;
}

// ---------------------------------------------------------------------------------------------------------------
// Batch views.

export interface ManifestOnDisk {
  createdAtMs: number;
  streamWatermark: number;
  inputs: { name: string; source: string; size: number }[];
  bucketSeconds?: number;
  userBuckets?: number;
  firstEventSecond?: number | null;
  lastEventSecond?: number | null;
  rowsRead: number;
  purchases: number;
  views: number;
  badRows: Record<string, number>;
  badRowsTotal: number;
  users: number;
  purchaseCentsTotal: number;
  threads: number;
  partitions: number;
  mapTasks: number;
  elapsedMs: number;
}

/** Published batch views (with `_SUCCESS`) under serving/batch, oldest first by the time in their name. */
export function completeBatchViews(dataDir: string): string[] {
  const dir = path.join(dataDir, 'serving', 'batch');
  if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) return [];
  return fs
    .readdirSync(dir)
    .filter((n) => /^batch-\d+$/.test(n) && fs.existsSync(path.join(dir, n, '_SUCCESS')))
    .sort((a, b) => Number(a.slice(6)) - Number(b.slice(6)))
    .map((n) => path.join(dir, n));
}

/** Entries of serving/batch that are not published views: leftovers of an aborted run. */
export function batchLeftovers(dataDir: string): string[] {
  const dir = path.join(dataDir, 'serving', 'batch');
  if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) return [];
  const published = new Set(completeBatchViews(dataDir).map((view) => path.basename(view)));
  return fs.readdirSync(dir).filter((n) => !published.has(n));
}

export function readManifest(viewDir: string): ManifestOnDisk {
  return JSON.parse(fs.readFileSync(path.join(viewDir, '_MANIFEST.json'), 'utf8')) as ManifestOnDisk;
}

export interface BatchViewOnDisk {
  readonly dir: string;
  /** The time in the view's name. */
  readonly ms: number;
  /** part file name → content, sorted by name. */
  readonly parts: Map<string, string>;
  /** buckets/ part file name → content (per (user, bucket) totals), sorted by name; empty for a view without buckets. */
  readonly bucketParts: Map<string, string>;
  readonly manifest: ManifestOnDisk;
  /** Every entry of the view directory, sorted. */
  readonly files: string[];
}

export function readBatchView(dir: string): BatchViewOnDisk {
  const files = fs.readdirSync(dir).sort();
  const parts = new Map<string, string>();
  for (const name of files.filter((n) => n.startsWith('part-'))) parts.set(name, fs.readFileSync(path.join(dir, name), 'utf8'));
  const bucketParts = new Map<string, string>();
  const bucketsDir = path.join(dir, 'buckets');
  for (const name of fs.existsSync(bucketsDir) ? fs.readdirSync(bucketsDir).sort() : [])
    bucketParts.set(name, fs.readFileSync(path.join(bucketsDir, name), 'utf8'));
  return { dir, ms: Number(/batch-(\d+)$/.exec(dir)![1]), parts, bucketParts, manifest: readManifest(dir), files };
}

/** The newest published batch view. */
export function latestBatchView(dataDir: string): BatchViewOnDisk {
  const views = completeBatchViews(dataDir);
  if (views.length === 0) throw new Error(`no complete batch view under ${dataDir}`);
  return readBatchView(views.at(-1)!);
}

/** The union of a view directory's part files (a user must sit in exactly one part). */
export function readPartTotals(viewDir: string): Totals {
  const totals: Totals = new Map();
  for (const name of fs
    .readdirSync(viewDir)
    .filter((n) => n.startsWith('part-'))
    .sort()) {
    const partTotals: Totals = new Map();
    addViewText(partTotals, fs.readFileSync(path.join(viewDir, name), 'utf8'), path.join(viewDir, name));
    for (const [user, t] of partTotals) {
      if (totals.has(user)) throw new Error(`${viewDir}: user ${JSON.stringify(user)} in two part files`);
      totals.set(user, t);
    }
  }
  return totals;
}

// ---------------------------------------------------------------------------------------------------------------
// The speed layer's outputs: the ingest log and realtime views.

export interface IngestLogEntry {
  readonly seq: number;
  readonly name: string;
  /** Bytes of the file that belong to the master dataset, even if it grew later. */
  readonly size: number;
  readonly ingestedAtMs: number;
}

/** A JSON-lines record without the `crc32` every writer adds to its line (README: the data folder's logs). */
function withoutCheck<T extends object>(record: T & { crc32?: number }): T {
  const { crc32: _check, ...rest } = record;
  return rest as T;
}

/** The logged stream files not folded into the log's first line by compaction, in log order (a line cut short by a crash is not an entry). */
export function loggedStreamFiles(dataDir: string, stream = 'default'): IngestLogEntry[] {
  const log = stream === 'default' ? path.join(dataDir, 'ingest', 'ingest.log') : path.join(dataDir, 'streams', stream, 'ingest', 'ingest.log');
  if (!fs.existsSync(log)) return [];
  return fs
    .readFileSync(log, 'utf8')
    .split('\n')
    .filter((l) => l.endsWith('}'))
    .map((l) => withoutCheck(JSON.parse(l) as IngestLogEntry & { compactedThrough?: number }))
    .filter((e) => e.compactedThrough === undefined);
}

/** The NATS partition streams of a data folder (README: `streams/p<i>/`), as `p0`, `p1`, … */
export function partitionStreamIds(dataDir: string): string[] {
  const dir = path.join(dataDir, 'streams');
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((name) => /^p\d+$/.test(name))
    .sort();
}

/** Where a logged stream file is (README): a name starting with `master/` is relative to the data folder, any other is in stream_input/. */
export function loggedFilePath(dataDir: string, name: string): string {
  return name.startsWith('master/') ? path.join(dataDir, name) : path.join(dataDir, 'stream_input', name);
}

/** The last ingest seq of a stream's realtime head (`serving/realtime/head.json`, or a partition's under streams/p<i>/); 0 without. */
export function streamHeadThroughSeq(dataDir: string, stream: string): number {
  const head =
    stream === 'default' ? path.join(dataDir, 'serving', 'realtime', 'head.json') : path.join(dataDir, 'streams', stream, 'serving', 'realtime', 'head.json');
  try {
    return (JSON.parse(fs.readFileSync(head, 'utf8')) as { throughSeq: number }).throughSeq;
  } catch {
    return 0;
  }
}

export interface CompactedMasterFile {
  readonly first: number;
  readonly last: number;
  readonly path: string;
  readonly bytes: number;
  /** Byte length of the file's prefix through seq first + i. */
  readonly seqEnds: readonly number[];
}

/**
 * The live compacted master files (master/stream/compactions.jsonl: a `compacted` record per file, one that
 * `replaces` the previous file supersedes it), in seq order.
 */
export function compactedMasterFiles(dataDir: string): CompactedMasterFile[] {
  const record = path.join(dataDir, 'master', 'stream', 'compactions.jsonl');
  if (!fs.existsSync(record)) return [];
  const files: CompactedMasterFile[] = [];
  for (const line of fs
    .readFileSync(record, 'utf8')
    .split('\n')
    .filter((l) => l.endsWith('}'))) {
    const parsed = JSON.parse(line) as { compacted?: { first: number; last: number; file: string; bytes: number; seqEnds: number[]; replaces?: string } };
    if (!parsed.compacted) continue;
    const { first, last, file, bytes, seqEnds, replaces } = parsed.compacted;
    if (replaces !== undefined) files.pop();
    files.push({ first, last, path: path.join(dataDir, 'master', 'stream', file), bytes, seqEnds });
  }
  return files;
}

/** Published realtime views (with `_SUCCESS`) under serving/realtime. */
export function completeRealtimeViews(dataDir: string): string[] {
  const dir = path.join(dataDir, 'serving', 'realtime');
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((n) => /^realtime-\d+$/.test(n) && fs.existsSync(path.join(dir, n, '_SUCCESS')))
    .map((n) => path.join(dir, n));
}

/** The last ingest seq the speed layer's realtime view reaches: its head (serving/realtime/head.json), else its newest checkpoint (0 when none). */
export function realtimeThroughSeq(dataDir: string): number {
  const head = path.join(dataDir, 'serving', 'realtime', 'head.json');
  if (fs.existsSync(head)) return (JSON.parse(fs.readFileSync(head, 'utf8')) as { throughSeq: number }).throughSeq;
  let best = 0;
  for (const view of completeRealtimeViews(dataDir)) {
    try {
      best = Math.max(best, (JSON.parse(fs.readFileSync(path.join(view, '_REALTIME.json'), 'utf8')) as { throughSeq: number }).throughSeq);
    } catch {
      // pruned by a newer view between listing and reading
    }
  }
  return best;
}

// ---------------------------------------------------------------------------------------------------------------
// Quarantine.

export function quarantineDir(dataDir: string): string {
  return path.join(dataDir, 'quarantine');
}

/** Names in <data>/quarantine, sorted (empty when the folder does not exist). */
export function quarantineNames(dataDir: string): string[] {
  const dir = quarantineDir(dataDir);
  return fs.existsSync(dir) ? fs.readdirSync(dir).sort() : [];
}

export interface QuarantineEntryOnDisk {
  readonly line: number;
  readonly reason: string;
  readonly text: string;
}

/** The entries of `<data>/quarantine/<name>`: `line_number<TAB>reason<TAB>row` lines (the row may hold tabs). */
export function readQuarantineEntries(dataDir: string, name: string): QuarantineEntryOnDisk[] {
  const text = fs.readFileSync(path.join(quarantineDir(dataDir), name), 'utf8');
  if (text !== '' && !text.endsWith('\n')) throw new Error(`${name}: the last entry has no newline`);
  return text
    .split('\n')
    .slice(0, -1)
    .map((line) => {
      const [number, reason, ...row] = line.split('\t');
      if (!/^\d+$/.test(number!) || reason === undefined || row.length === 0) throw new Error(`${name}: bad entry ${JSON.stringify(line)}`);
      return { line: Number(number), reason, text: row.join('\t') };
    });
}

export interface ReplayLedgerLine {
  readonly line: number;
  readonly sha256: string;
  readonly file: string;
}

/** The complete lines of `<data>/quarantine/<input>.replayed` (a last line cut short by a crash is not one). */
export function readReplayLedger(dataDir: string, inputName: string): ReplayLedgerLine[] {
  const file = path.join(quarantineDir(dataDir), `${inputName}.replayed`);
  if (!fs.existsSync(file)) return [];
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  lines.pop();
  return lines.map((l) => withoutCheck(JSON.parse(l) as ReplayLedgerLine));
}
