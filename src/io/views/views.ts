// Finding and reading published views: batch views (with their watermark), speed windows (with what their
// _WINDOW.json says) and realtime views.

import { type EventTimeHead, eventTimeHeadOf } from '../../core/event-time.js';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { type UserAggTable } from '../../core/agg-table.js';
import { LambdaflowError } from '../../core/errors.js';
import { NO_BUCKET_FIELD, bucketFieldOf, mergeViewText, viewPartEncoding } from '../../core/view-format.js';
import { type ContentCheck, checkedJsonText, contentCheckFrom, contentMismatch, parseCheckedJson, parseJsonLine } from '../files/content-check.js';
import { DEFAULT_STREAM } from '../files/layout.js';
import { openRegularFile, readRegularFile } from '../files/read-range.js';
import { type Logger } from '../runtime/logger.js';
import { MANIFEST_FILE, type ManifestFacts, readBatchManifest } from './manifest.js';

export interface PublishedView {
  readonly dir: string;
  readonly createdAtMs: number;
}

export interface BatchViewInfo extends PublishedView {
  /** Last ingest-log sequence number the batch absorbed (of the default stream). */
  readonly watermark: number;
  /** Last ingest seq absorbed of each NATS partition stream (`p0`, …); a stream it does not name: 0, none. */
  readonly streamWatermarks: Readonly<Record<string, number>>;
}

/** The last ingest seq of a stream ('default', 'p0', …) a batch view absorbed (0 without a view). */
export function batchWatermarkOf(
  view: { readonly watermark: number; readonly streamWatermarks?: Readonly<Record<string, number>> } | undefined,
  stream: string,
): number {
  if (!view) return 0;
  return stream === DEFAULT_STREAM ? view.watermark : (view.streamWatermarks?.[stream] ?? 0);
}

/** The realtime view's reach (head.json, and each checkpoint's _REALTIME.json), with the speed layer's counters. */
export interface RealtimeHeadInfo {
  /** The batch watermark the realtime view is relative to: it holds stream files with seq in (watermark, throughSeq]. */
  readonly watermark: number;
  readonly throughSeq: number;
  /** Ingest time of seq throughSeq; null when unknown (no file yet). */
  readonly lastIngestedAtMs: number | null;
  /** The speed layer process's counters when it published (rows and bad rows read since startedAtMs). */
  readonly rowsIngested: number | null;
  readonly badRows: number | null;
  readonly startedAtMs: number | null;
  /** The stream's event clock through throughSeq (undefined: a head from before event time). */
  readonly eventTime: EventTimeHead | undefined;
  /** Since when the speed layer's source has not been able to read (a NATS cluster not answering); null while it reads. */
  readonly sourceUnreadableSinceMs: number | null;
}

/** A realtime checkpoint. */
export type RealtimeViewInfo = PublishedView & RealtimeHeadInfo;

const numberOrNull = (value: unknown): number | null => (typeof value === 'number' && Number.isFinite(value) ? value : null);

function headOf(meta: Record<string, unknown> | undefined): RealtimeHeadInfo | undefined {
  if (typeof meta?.watermark !== 'number' || typeof meta.throughSeq !== 'number') return undefined;
  return {
    watermark: meta.watermark,
    throughSeq: meta.throughSeq,
    lastIngestedAtMs: numberOrNull(meta.lastIngestedAtMs),
    rowsIngested: numberOrNull(meta.rowsIngested),
    badRows: numberOrNull(meta.badRows),
    startedAtMs: numberOrNull(meta.startedAtMs),
    eventTime: eventTimeHeadOf(meta.eventTime),
    sourceUnreadableSinceMs: numberOrNull(meta.sourceUnreadableSinceMs),
  };
}

function listComplete(parent: string, pattern: RegExp): PublishedView[] {
  let names: string[];
  try {
    names = fs.readdirSync(parent);
  } catch (error) {
    // No folder yet means no views; any other failure must not pass for "no views" (a merge would drop them all).
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new LambdaflowError('E_STATE', `cannot list ${parent}: ${(error as Error).message}`, { file: parent });
  }
  const views: PublishedView[] = [];
  for (const name of names) {
    const match = pattern.exec(name);
    if (!match) continue;
    const dir = path.join(parent, name);
    // Views are published by renaming a folder lambdaflow wrote: a link (to a folder anywhere) is not one of them.
    if (fs.lstatSync(dir, { throwIfNoEntry: false })?.isDirectory() !== true) continue;
    if (fs.existsSync(path.join(dir, '_SUCCESS'))) views.push({ dir, createdAtMs: Number(match[1]) });
  }
  return views.sort((a, b) => a.createdAtMs - b.createdAtMs);
}

/** JSON state files (head.json, _REALTIME.json) are small: one past this is damage, not something to read whole. */
export const MAX_STATE_JSON_BYTES = 4 << 20;

/** A small state file's bytes (see readRegularFile: no links, at most `maxBytes`); undefined when there is none. */
function readStateBytes(file: string, maxBytes: number): Buffer | undefined {
  try {
    return readRegularFile(file, 'E_STATE', maxBytes);
  } catch (error) {
    if (((error as Error).cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * A JSON state file the speed layer wrote with its check (checkedJsonText); undefined when there is none. One too big,
 * cut, corrupted or from before checks is one E_STATE naming it.
 */
function readStateJson(file: string): Record<string, unknown> | undefined {
  const bytes = readStateBytes(file, MAX_STATE_JSON_BYTES);
  if (bytes === undefined) return undefined;
  const parsed = parseCheckedJson(bytes.toString('utf8'));
  if (typeof parsed === 'string') throw new LambdaflowError('E_STATE', `damaged state file ${file}: ${parsed}`, { file });
  return parsed;
}

export const BATCH_VIEW_PATTERN = /^batch-(\d+)$/;
/** A batch view's per-(user, bucket) totals: `user_id,bucket_start,purchase_count,purchase_amount_total` parts. */
export const BUCKETS_FOLDER = 'buckets';
export const SPEED_VIEW_PATTERN = /^speed-(\d+)\.txt$/;
export const REALTIME_VIEW_PATTERN = /^realtime-(\d+)$/;

/**
 * Watermarks by view folder (a published view never changes, and its manifest grows with the stream's history);
 * undefined for a view whose manifest cannot say what it absorbed.
 */
const watermarks = new Map<string, Pick<BatchViewInfo, 'watermark' | 'streamWatermarks'> | undefined>();

function readWatermark(dir: string, logger: Logger): Pick<BatchViewInfo, 'watermark' | 'streamWatermarks'> | undefined {
  const { found, problem: unreadable, streamWatermark, streamWatermarks } = readBatchManifest(dir);
  if (streamWatermark !== undefined && streamWatermarks !== undefined) return { watermark: streamWatermark, streamWatermarks };
  // Serving it as watermark 0 would count every stream file it absorbed twice.
  const problem = !found
    ? 'it has no _MANIFEST.json'
    : unreadable !== undefined
      ? `its manifest cannot be read (${unreadable})`
      : streamWatermark === undefined
        ? '_MANIFEST.json has no valid streamWatermark'
        : '_MANIFEST.json has invalid streamWatermarks';
  logger.warn(`skipping batch view ${dir}: ${problem}, so it cannot say which stream files it absorbed`);
  return undefined;
}

/** Complete batch views (with `_SUCCESS` and a watermark), oldest first by (watermark, creation time). */
export function listBatchViews(servingBatch: string, logger: Logger): BatchViewInfo[] {
  const views = listComplete(servingBatch, BATCH_VIEW_PATTERN);
  for (const dir of watermarks.keys()) if (path.dirname(dir) === servingBatch && !views.some((v) => v.dir === dir)) watermarks.delete(dir);
  const infos: BatchViewInfo[] = [];
  for (const view of views) {
    if (!watermarks.has(view.dir)) watermarks.set(view.dir, readWatermark(view.dir, logger));
    const watermark = watermarks.get(view.dir);
    if (watermark !== undefined) infos.push({ ...view, ...watermark });
  }
  return infos.sort((a, b) => a.watermark - b.watermark || a.createdAtMs - b.createdAtMs);
}

/** The batch view to serve: the one that absorbed the most stream files, newest among equals. */
export function latestBatchView(servingBatch: string, logger: Logger): BatchViewInfo | undefined {
  return listBatchViews(servingBatch, logger).at(-1);
}

export function listSpeedViews(servingSpeed: string): PublishedView[] {
  return listComplete(servingSpeed, SPEED_VIEW_PATTERN);
}

/** A speed window's own description, beside its parts: the one reader of it below, its writer windowInfoText. */
export const WINDOW_FILE = '_WINDOW.json';
/** A window's description is a handful of numbers: a file past this is damage, not something to read whole. */
const WINDOW_MAX_BYTES = 4096;

/** A published window's `_WINDOW.json`: a processing-time window's bounds in ms, an event-time one's in event seconds. */
export type WindowInfo =
  | { readonly time: 'processing'; readonly startMs: number; readonly endMs: number }
  | { readonly time: 'event'; readonly start: number; readonly end: number; readonly watermark: number; readonly lateRows: number };

/** Its text: checked JSON (its last key `crc32`, see checkedJsonText), so a digit flipped in a bound is found. */
export const windowInfoText = (info: WindowInfo): string => checkedJsonText(info);

const isInteger = (value: unknown): value is number => Number.isSafeInteger(value);

/** What is wrong with a parsed `_WINDOW.json` of the window ending at `endMs` (its folder's name), or the info it holds. */
function windowInfoOf(value: unknown, endMs: number): WindowInfo | string {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'expected a JSON object';
  const json = value as Record<string, unknown>;
  if (json.time === 'processing') {
    const { startMs, endMs: end } = json;
    if (!isInteger(startMs) || !isInteger(end) || startMs >= end) return 'expected whole-ms startMs < endMs';
    if (end !== endMs) return `expected endMs ${endMs} (the folder's name), found ${end}`;
    return Object.freeze({ time: 'processing', startMs, endMs: end });
  }
  if (json.time === 'event') {
    const { start, end, watermark, lateRows } = json;
    if (!isInteger(start) || !isInteger(end) || start >= end) return 'expected whole-second start < end';
    if (end * 1000 !== endMs) return `expected end ${endMs / 1000} (the folder's name), found ${end}`;
    // An event-time window is published once the watermark reaches its end, never before.
    if (!isInteger(watermark) || watermark < end) return `expected a watermark of at least its end ${end}, found ${JSON.stringify(watermark)}`;
    if (!isInteger(lateRows) || lateRows < 0) return `expected lateRows a count, found ${JSON.stringify(lateRows)}`;
    return Object.freeze({ time: 'event', start, end, watermark, lateRows });
  }
  return `expected time "processing" or "event", found ${JSON.stringify(json.time)}`;
}

/**
 * What the window in `dir` (`speed-<endMs>.txt`) says it is; undefined when it has no `_WINDOW.json` (published before
 * it had one). A damaged one — a link, too big, cut, corrupted, a field missing or wrong — is one E_STATE naming it.
 * One without its crc32 (written before checks) is read as plain JSON, every field still checked.
 */
export function readWindowInfo(dir: string, endMs: number): WindowInfo | undefined {
  const file = path.join(dir, WINDOW_FILE);
  const bytes = readStateBytes(file, WINDOW_MAX_BYTES);
  if (bytes === undefined) return undefined;
  const parsed = parseJsonLine(bytes.toString('utf8').replace(/\n$/, ''));
  const info = typeof parsed === 'string' ? parsed : parsed.value === undefined ? 'not JSON' : windowInfoOf(parsed.value, endMs);
  if (typeof info === 'string') throw new LambdaflowError('E_STATE', `damaged window file ${file}: ${info}`, { file });
  return info;
}

/** Realtime checkpoint metadata by folder (a published view never changes), or why its _REALTIME.json is refused. */
const realtimeMeta = new Map<string, RealtimeHeadInfo | LambdaflowError | undefined>();

function realtimeMetaOf(dir: string): RealtimeHeadInfo | LambdaflowError | undefined {
  try {
    return headOf(readStateJson(path.join(dir, '_REALTIME.json')));
  } catch (error) {
    if (!(error instanceof LambdaflowError) || error.code !== 'E_STATE') throw error;
    return error;
  }
}

/** Complete realtime checkpoints by through-seq; one whose _REALTIME.json is damaged is left out, and given to `onDamaged`. */
export function listRealtimeViews(servingRealtime: string, onDamaged?: (dir: string, error: LambdaflowError) => void): RealtimeViewInfo[] {
  const complete = listComplete(servingRealtime, REALTIME_VIEW_PATTERN);
  for (const dir of realtimeMeta.keys()) if (path.dirname(dir) === servingRealtime && !complete.some((v) => v.dir === dir)) realtimeMeta.delete(dir);
  const views: RealtimeViewInfo[] = [];
  for (const view of complete) {
    if (!realtimeMeta.has(view.dir)) realtimeMeta.set(view.dir, realtimeMetaOf(view.dir));
    const meta = realtimeMeta.get(view.dir);
    if (meta instanceof LambdaflowError) onDamaged?.(view.dir, meta);
    else if (meta) views.push({ ...view, ...meta });
  }
  return views.sort((a, b) => a.throughSeq - b.throughSeq || a.createdAtMs - b.createdAtMs);
}

/**
 * Reads whole files one after another into one buffer, grown as needed (a file's bytes are valid until the next
 * read): a view's parts then share one buffer instead of each leaving its own to a collection (megabytes a part at a
 * million users).
 */
class WholeFileReader {
  private buffer = Buffer.alloc(0);

  read(file: string): Buffer {
    const fd = openRegularFile(file, 'E_STATE');
    try {
      // A byte more than its size: the read that says it ended finds room.
      this.grow(fs.fstatSync(fd).size + 1);
      let length = 0;
      for (;;) {
        if (length === this.buffer.length) this.grow(2 * length);
        const read = fs.readSync(fd, this.buffer, length, this.buffer.length - length, null);
        if (read === 0) return this.buffer.subarray(0, length);
        length += read;
      }
    } finally {
      fs.closeSync(fd);
    }
  }

  /** At least `bytes` of room, keeping what was read. */
  private grow(bytes: number): void {
    if (bytes <= this.buffer.length) return;
    const grown = Buffer.allocUnsafeSlow(bytes);
    this.buffer.copy(grown);
    this.buffer = grown;
  }
}

/** A gzip-compressed part's bytes; a part that does not gunzip is damaged like a part with a bad line. */
function gunzipPart(file: string): Buffer {
  try {
    return zlib.gunzipSync(readRegularFile(file, 'E_STATE'));
  } catch (error) {
    if (!(error as NodeJS.ErrnoException).code?.startsWith('Z_')) throw error;
    throw new LambdaflowError('E_STATE', `damaged view file ${file}: not a complete gzip stream (${(error as Error).message})`, { file }, { cause: error });
  }
}

/** The error of a read that a view's removal cut short (a batch job pruning old views): the newest view is read instead. */
export const VIEW_REMOVED = 'removed';

/**
 * Runs a read of the view in `viewDir`, turning a failure or success that its removal meanwhile explains into one
 * E_STATE error (reason VIEW_REMOVED): pruning removes a view's files before its folder, so a view that lost
 * `_SUCCESS` may have been read with parts missing, or failed on a file that went away.
 */
export function readingView<T>(viewDir: string, read: () => T): T {
  const removed = (cause?: unknown): LambdaflowError =>
    new LambdaflowError('E_STATE', `view ${viewDir} was removed while being read`, { file: viewDir, reason: VIEW_REMOVED }, { cause });
  let result: T;
  try {
    result = read();
  } catch (error) {
    if (!fs.existsSync(path.join(viewDir, '_SUCCESS'))) throw removed(error);
    throw error;
  }
  if (!fs.existsSync(path.join(viewDir, '_SUCCESS'))) throw removed();
  return result;
}

/**
 * Reads every data part of a view folder (or of its `buckets/`, with `viewDir` the view's folder): our own
 * `part-00000…` and Spark's `part-00000-<uuid>-c000.csv` or `.csv.gz` (see viewPartEncoding for what is read and what
 * is ignored). A part's bytes are valid during its call only.
 */
export function forEachViewPart(dir: string, read: (bytes: Uint8Array, file: string) => void, viewDir = dir): void {
  if (fs.lstatSync(dir, { throwIfNoEntry: false })?.isSymbolicLink())
    throw new LambdaflowError('E_STATE', `${dir} is a symbolic link (links are not followed)`, { file: dir });
  const reader = new WholeFileReader();
  readingView(viewDir, () => {
    for (const name of fs.readdirSync(dir).sort()) {
      const encoding = viewPartEncoding(name);
      if (encoding === undefined) continue;
      const file = path.join(dir, name);
      read(encoding === 'gzip' ? gunzipPart(file) : reader.read(file), file);
    }
  });
}

/**
 * Adds every data part of a view folder into the table, each optionally starting with a header line; with the data
 * folder's `bucketSeconds`, a part that starts with BUCKETS_HEADER (a realtime checkpoint's) is read per bucket.
 */
export function mergeViewDirectory(dir: string, table: UserAggTable, sign: 1 | -1 = 1, bucketSeconds = 0): void {
  forEachViewPart(dir, (bytes, file) => {
    const buckets = bucketSeconds > 0 ? bucketFieldOf(bytes, bucketSeconds) : NO_BUCKET_FIELD;
    mergeViewText(bytes, file, table, sign, 'header-or-data', buckets);
  });
}

/** Keeps the newest `keep` views of a listing, removing the rest. */
export function pruneViews(views: readonly PublishedView[], keep: number): void {
  for (const view of views.slice(0, Math.max(0, views.length - keep))) fs.rmSync(view.dir, { recursive: true, force: true });
}

/** Reads the realtime head (serving/realtime/head.json); undefined when there is none yet, E_STATE naming it when it is damaged. */
export function readRealtimeHead(file: string): RealtimeHeadInfo | undefined {
  return headOf(readStateJson(file));
}

/** The `_REALTIME.json` key that lists a checkpoint's parts with their checks (each part's lines and CRC-32). */
export const CHECKPOINT_PARTS_KEY = 'parts';

/**
 * Reads a realtime checkpoint's parts, each checked against what its `_REALTIME.json` says of it: a part cut (a
 * checkpoint cut at a line boundary still parses), corrupted, missing or unlisted is one E_STATE naming the file. A
 * checkpoint from before checks cannot prove itself either: it is refused too, and the speed layer writes a new one.
 * A part's bytes are valid during its call only.
 */
export function forEachCheckpointPart(dir: string, read: (bytes: Uint8Array, file: string) => void): void {
  const damaged = (problem: string): LambdaflowError => new LambdaflowError('E_STATE', `damaged realtime checkpoint ${dir}: ${problem}`, { file: dir });
  const listed = readStateJson(path.join(dir, '_REALTIME.json'))?.[CHECKPOINT_PARTS_KEY];
  if (listed === null || typeof listed !== 'object' || Array.isArray(listed))
    throw damaged('its _REALTIME.json lists no parts with their checks (cut, or from before checks)');
  const expected = new Map(Object.entries(listed as Record<string, unknown>).map(([name, check]) => [name, contentCheckFrom(check)]));
  forEachListedPart(dir, dir, expected, '_REALTIME.json', damaged, read);
}

/**
 * Reads the parts of `dir` (a view folder or its buckets/), each checked against `expected` (its check by name): a
 * part cut, corrupted, missing or unlisted is the error `damaged` makes of it.
 */
function forEachListedPart(
  dir: string,
  viewDir: string,
  expected: ReadonlyMap<string, ContentCheck | undefined>,
  listedIn: string,
  damaged: (problem: string) => LambdaflowError,
  read: (bytes: Uint8Array, file: string) => void,
): void {
  const seen = new Set<string>();
  forEachViewPart(
    dir,
    (bytes, file) => {
      const name = path.basename(file);
      const check = expected.get(name);
      if (!check) throw damaged(`${name} is not among the parts its ${listedIn} lists`);
      const mismatch = contentMismatch(bytes, check);
      if (mismatch !== undefined) throw damaged(`${name}: ${mismatch}`);
      seen.add(name);
      read(bytes, file);
    },
    viewDir,
  );
  const missing = [...expected.keys()].filter((name) => !seen.has(name));
  if (missing.length > 0) throw damaged(`${missing.join(', ')} listed in its ${listedIn} but missing`);
}

/**
 * Reads a batch view's parts (`folder` 'parts': its all-time parts; 'buckets': those of its buckets/), each checked
 * against its manifest's `parts` (from readBatchManifest) when the manifest lists them; a view whose manifest lists
 * none (Spark's, or from before checks) is read unchecked. A part's bytes are valid during its call only.
 */
export function forEachBatchViewPart(
  viewDir: string,
  folder: 'parts' | 'buckets',
  parts: ManifestFacts['parts'],
  read: (bytes: Uint8Array, file: string) => void,
): void {
  const dir = folder === 'parts' ? viewDir : path.join(viewDir, BUCKETS_FOLDER);
  if (parts === undefined) return forEachViewPart(dir, read, viewDir);
  const prefix = folder === 'parts' ? '' : `${BUCKETS_FOLDER}/`;
  const expected = new Map(
    [...parts]
      .filter(([name]) => name.startsWith(prefix) && !name.slice(prefix.length).includes('/'))
      .map(([name, check]) => [name.slice(prefix.length), check]),
  );
  const damaged = (problem: string): LambdaflowError => new LambdaflowError('E_STATE', `damaged batch view ${viewDir}: ${prefix}${problem}`, { file: viewDir });
  forEachListedPart(dir, viewDir, expected, MANIFEST_FILE, damaged, read);
}

/** A realtime checkpoint's parts' bytes, checked, in name order. */
export function readCheckpointParts(dir: string): Buffer[] {
  const parts: Buffer[] = [];
  forEachCheckpointPart(dir, (bytes) => parts.push(Buffer.from(bytes)));
  return parts;
}

/** Adds a realtime checkpoint's parts, checked, into the table (per bucket, with the data folder's bucket size). */
export function mergeCheckpoint(dir: string, table: UserAggTable, bucketSeconds: number): void {
  forEachCheckpointPart(dir, (bytes, file) => mergeViewText(bytes, file, table, 1, 'header-or-data', bucketFieldOf(bytes, bucketSeconds)));
}
