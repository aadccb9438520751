// A batch view's _MANIFEST.json: what the batch job writes, and the one reader of it, which checks every field it
// returns (a view another job wrote, or a damaged one, may say less, or say it wrongly).

import { LambdaflowError } from '../../core/errors.js';
import path from 'node:path';
import { type ParseCounts } from '../../core/event-parser.js';
import { type ContentCheck, checkedJsonText, contentCheckFrom, parseJsonLine } from '../files/content-check.js';
import { readRegularFile } from '../files/read-range.js';

export const MANIFEST_FILE = '_MANIFEST.json';
/** A manifest lists a view's inputs (a line each): a few MB holds tens of thousands; past it, it is not read. */
export const MANIFEST_MAX_BYTES = 8 << 20;

/** The name of a batch view's part of reduce partition `partition` (in the view's folder and in its buckets/). */
export const batchPartName = (partition: number): string => `part-${String(partition).padStart(5, '0')}`;

export interface BatchManifest {
  readonly createdAtMs: number;
  readonly streamWatermark: number;
  /** Each NATS partition stream's last ingest seq absorbed (only when the data folder has partition streams). */
  readonly streamWatermarks?: Readonly<Record<string, number>>;
  readonly inputs: readonly BatchManifestInput[];
  /** The bucket size of the per-(user, bucket) totals in the view's buckets/ folder. */
  readonly bucketSeconds: number;
  /** Lines of buckets/: (user, bucket) totals. */
  readonly userBuckets: number;
  /** The event seconds its good rows spanned (null: no good row). */
  readonly firstEventSecond: number | null;
  readonly lastEventSecond: number | null;
  readonly rowsRead: number;
  readonly purchases: number;
  readonly views: number;
  readonly badRows: ParseCounts['bad'];
  readonly badRowsTotal: number;
  readonly users: number;
  readonly purchaseCentsTotal: number;
  readonly threads: number;
  readonly partitions: number;
  readonly mapTasks: number;
  /** Line-aligned byte ranges the map tasks took from their shared queue. */
  readonly mapRanges: number;
  readonly elapsedMs: number;
  /** Each part's line count and CRC-32, by its path in the view (`part-00000`, `buckets/part-00000`). */
  readonly parts: Readonly<Record<string, ContentCheck>>;
}

/**
 * A manifest's text: checked JSON (its last key `crc32`, see checkedJsonText), so a digit flipped in a watermark or a
 * total is found; with its parts' checks, the whole view proves itself.
 */
export const batchManifestText = (manifest: BatchManifest): string => checkedJsonText(manifest);

export interface BatchManifestInput {
  readonly name: string;
  readonly source: string;
  readonly size: number;
}

/** What a view's manifest says, each field only when it is valid (undefined when absent or of the wrong kind). */
export interface ManifestFacts {
  /** False when the view has no manifest; one that is not a JSON object says nothing (every field undefined). */
  readonly found: boolean;
  /** Why a manifest found could not be read (a link, not a regular file, past MANIFEST_MAX_BYTES). */
  readonly problem: string | undefined;
  /** A seq (an integer ≥ 0). */
  readonly streamWatermark: number | undefined;
  /** Seqs by stream: {} when the manifest names none, undefined when one it names is not a seq. */
  readonly streamWatermarks: Readonly<Record<string, number>> | undefined;
  /** Counts (integers ≥ 0). */
  readonly users: number | undefined;
  readonly userBuckets: number | undefined;
  /** Numbers. */
  readonly rowsRead: number | undefined;
  readonly purchases: number | undefined;
  readonly purchaseCentsTotal: number | undefined;
  readonly badRowsTotal: number | undefined;
  readonly bucketSeconds: number | undefined;
  /** The last event second its good rows held (undefined: none, or not said). */
  readonly lastEventSecond: number | undefined;
  /** Parts the batch job wrote (part-00000… in the view and in buckets/, one per reduce partition); a Spark job's view names none. */
  readonly partitions: number | undefined;
  readonly inputs: readonly BatchManifestInput[] | undefined;
  /** Each part's check by its path in the view; undefined when the manifest lists none (another job's, or from before checks). */
  readonly parts: ReadonlyMap<string, ContentCheck | undefined> | undefined;
}

const isSeq = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
const numberOf = (value: unknown): number | undefined => (typeof value === 'number' ? value : undefined);
const isInput = (value: unknown): value is BatchManifestInput => {
  const input = value as Partial<BatchManifestInput> | null;
  return typeof input === 'object' && input !== null && typeof input.name === 'string' && typeof input.source === 'string' && typeof input.size === 'number';
};

function streamWatermarksOf(value: unknown): Readonly<Record<string, number>> | undefined {
  const perStream = value ?? {};
  if (typeof perStream !== 'object' || perStream === null || Array.isArray(perStream) || !Object.values(perStream).every(isSeq)) return undefined;
  return Object.freeze({ ...(perStream as Record<string, number>) });
}

/** Reads the manifest of the batch view in `dir` (see ManifestFacts). */
function partChecksOf(value: unknown): ReadonlyMap<string, ContentCheck | undefined> | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  return new Map(Object.entries(value as Record<string, unknown>).map(([name, check]) => [name, contentCheckFrom(check)]));
}

export function readBatchManifest(dir: string): ManifestFacts {
  let json: Record<string, unknown> | undefined;
  let found = true;
  let problem: string | undefined;
  try {
    // A manifest that ends with its CRC-32 (ours) must match it; one without (Spark's, or from before checks) is plain JSON.
    const parsed = parseJsonLine(readRegularFile(path.join(dir, MANIFEST_FILE), 'E_STATE', MANIFEST_MAX_BYTES).toString('utf8').replace(/\n$/, ''));
    if (typeof parsed === 'string') problem = `damaged ${MANIFEST_FILE}: ${parsed}`;
    else if (parsed.value !== null && typeof parsed.value === 'object') json = parsed.value as Record<string, unknown>;
  } catch (error) {
    found = !((error as Error & { cause?: NodeJS.ErrnoException }).cause?.code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOENT');
    if (found && error instanceof LambdaflowError) problem = error.message;
  }
  return {
    found,
    problem,
    streamWatermark: isSeq(json?.streamWatermark) ? json.streamWatermark : undefined,
    streamWatermarks: json ? streamWatermarksOf(json.streamWatermarks) : undefined,
    users: isSeq(json?.users) ? json.users : undefined,
    userBuckets: isSeq(json?.userBuckets) ? json.userBuckets : undefined,
    rowsRead: numberOf(json?.rowsRead),
    purchases: numberOf(json?.purchases),
    purchaseCentsTotal: numberOf(json?.purchaseCentsTotal),
    badRowsTotal: numberOf(json?.badRowsTotal),
    bucketSeconds: numberOf(json?.bucketSeconds),
    lastEventSecond: numberOf(json?.lastEventSecond),
    partitions: isSeq(json?.partitions) ? json.partitions : undefined,
    inputs: Array.isArray(json?.inputs) && json.inputs.every(isInput) ? json.inputs : undefined,
    parts: partChecksOf(json?.parts),
  };
}
