// Checks a data folder (`lambdaflow verify`): every damaged, missing or orphaned file and every link, found with the
// readers the layers use themselves (each refuses damage with E_STATE), so verify judges a file as its owner would.
// Read-only: it takes no lock and changes nothing, so a folder a pipeline is writing may be seen mid-change.

import fs from 'node:fs';
import path from 'node:path';
import { DEFAULT_BUCKET_SECONDS } from '../../core/event-time.js';
import { LambdaflowError } from '../../core/errors.js';
import { bucketField, forEachViewLine } from '../../core/view-format.js';
import { isAlive } from '../files/atomic.js';
import { recordedBucketSeconds } from '../files/event-time-settings.js';
import { type DataLayout, allStreamLayouts } from '../files/layout.js';
import { LoggedFiles, readCompactions } from '../logs/compactions.js';
import { readIngestLog } from '../logs/ingest-log.js';
import { readReplayLedger } from '../logs/replay-ledger.js';
import { silentLogger } from '../runtime/logger.js';
import { DELTA_PATTERN, DeltaFiles } from '../views/deltas.js';
import { EVENT_WINDOW_STATE_FILE, checkEventWindowState } from '../views/event-window-state.js';
import { MANIFEST_FILE, batchPartName, readBatchManifest } from '../views/manifest.js';
import {
  BATCH_VIEW_PATTERN,
  BUCKETS_FOLDER,
  REALTIME_VIEW_PATTERN,
  SPEED_VIEW_PATTERN,
  WINDOW_FILE,
  batchWatermarkOf,
  forEachCheckpointPart,
  forEachBatchViewPart,
  forEachViewPart,
  latestBatchView,
  listRealtimeViews,
  listSpeedViews,
  readRealtimeHead,
  readWindowInfo,
} from '../views/views.js';

export type FindingKind = 'damaged' | 'missing' | 'orphaned' | 'link';

export interface Finding {
  readonly kind: FindingKind;
  /** Relative to the data folder. */
  readonly path: string;
  /** What was expected and what was found. */
  readonly detail: string;
}

export interface FolderReport {
  readonly findings: readonly Finding[];
  /** Regular files seen under the data folder. */
  readonly filesChecked: number;
}

/** Names write-file-atomic writes under a temp name `<name>.<number>` first: such a name left over is a crash mid-write. */
const ATOMIC_TARGET = new RegExp(`^(head\\.json|${EVENT_WINDOW_STATE_FILE.replace('.', '\\.')}|event-time\\.json|delta-\\d+-\\d+\\.csv|.+\\.bad)$`);
const ATOMIC_TEMP = /^(.+)\.\d{1,10}$/;
/** Hidden temps of atomic publishing (hiddenTempPath): `.<name>.tmp-<pid>-<stamp>`. */
const HIDDEN_TEMP = /^\..*\.tmp-(\d+)-\d+$/;
const COMPACTIONS_FILE = 'compactions.jsonl';

/** The findings of one run, one per path (the first found: a link is not also reported as unreadable). */
class Findings {
  private readonly byPath = new Map<string, Finding>();

  constructor(private readonly root: string) {}

  add(kind: FindingKind, file: string, detail: string): void {
    const relative = path.relative(this.root, file) || '.';
    if (this.byPath.has(relative)) return;
    // A reader's message names the file: the line names it once already.
    const text = detail.split(`${this.root}${path.sep}`).join('');
    const named = text.indexOf(`${relative}: `);
    const what = named >= 0 ? text.slice(named + relative.length + 2) : text.startsWith(`${relative} `) ? text.slice(relative.length + 1) : text;
    this.byPath.set(relative, { kind, path: relative, detail: what });
  }

  has(file: string): boolean {
    return this.byPath.has(path.relative(this.root, file));
  }

  /** Runs a reader: the E_STATE it refuses damage with is a damaged file (the one the error names, else `file`). */
  check<T>(file: string, read: () => T): T | undefined {
    try {
      return read();
    } catch (error) {
      if (!(error instanceof LambdaflowError) || error.code !== 'E_STATE') throw error;
      this.add('damaged', error.context.file ?? file, error.message);
      return undefined;
    }
  }

  list(): Finding[] {
    return [...this.byPath.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }
}

/** Walks the whole folder without following links: links, entries that are neither files nor folders, temps left over. */
function walk(dir: string, findings: Findings): number {
  let files = 0;
  for (const name of listNames(dir)) {
    const full = path.join(dir, name);
    // Gone since listed (a live folder: a prune, a rename into place): nothing to check.
    const stat = fs.lstatSync(full, { throwIfNoEntry: false });
    if (!stat) continue;
    const hidden = HIDDEN_TEMP.exec(name);
    if (hidden && !isAlive(Number(hidden[1]))) {
      findings.add('orphaned', full, `a temp ${stat.isDirectory() ? 'folder' : 'file'} of a write that never finished (pid ${hidden[1]} is gone)`);
      continue;
    }
    if (stat.isSymbolicLink()) findings.add('link', full, `a symbolic link${linkTarget(full)} (links are never followed)`);
    else if (stat.isDirectory()) files += walk(full, findings);
    else if (!stat.isFile()) findings.add('damaged', full, 'expected a regular file or folder, found neither (a FIFO, socket or device)');
    else {
      files++;
      const atomic = ATOMIC_TEMP.exec(name);
      if (atomic && ATOMIC_TARGET.test(atomic[1]!)) findings.add('orphaned', full, `a write-file-atomic temp of ${atomic[1]} left by a crash mid-write`);
    }
  }
  return files;
}

/** ` to <target>` of a link, for its finding (nothing when it went away meanwhile). */
function linkTarget(link: string): string {
  try {
    return ` to ${fs.readlinkSync(link)}`;
  } catch {
    return '';
  }
}

/** Folders of `parent` named like published views but without `_SUCCESS`: a publish or a prune that did not finish. */
function incompleteViews(parent: string, pattern: RegExp, findings: Findings): void {
  for (const name of listNames(parent)) {
    const dir = path.join(parent, name);
    if (!pattern.test(name) || fs.lstatSync(dir, { throwIfNoEntry: false })?.isDirectory() !== true) continue;
    if (!fs.existsSync(path.join(dir, '_SUCCESS')))
      findings.add('orphaned', dir, 'a view folder without _SUCCESS: incomplete (a publish or a prune cut short)');
  }
}

function listNames(dir: string): string[] {
  try {
    return fs.readdirSync(dir).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR') return [];
    throw error;
  }
}

/** What a view folder's parts hold: data lines (a header line not counted) and their totals, each line parsed as its readers parse it. */
interface ViewContent {
  readonly lines: number;
  readonly purchases: number;
  readonly cents: number;
}

/** `forEachPart` reads the parts (checked against their manifest's checks where it lists them). */
function viewContent(forEachPart: (read: (bytes: Uint8Array, file: string) => void) => void, bucketSeconds: number | undefined): ViewContent {
  const content = { lines: 0, purchases: 0, cents: 0 };
  const buckets = bucketSeconds === undefined ? undefined : bucketField(bucketSeconds);
  const add = (_prefix: readonly number[], _key: Uint8Array, _start: number, _end: number, count: number, cents: number): void => {
    content.lines++;
    content.purchases += count;
    content.cents += cents;
  };
  forEachPart((bytes, file) => forEachViewLine(bytes, file, 0, add, { firstLine: 'header-or-data', buckets }));
  return content;
}

/** How a view folder's content differs from what its manifest says (lines, purchases, cents); undefined when it does not. */
function contentMismatch(
  found: ViewContent,
  lines: number | undefined,
  linesAre: string,
  manifest: { purchases: number | undefined; purchaseCentsTotal: number | undefined },
): string | undefined {
  const expected: [string, number | undefined, number][] = [
    [linesAre, lines, found.lines],
    ['purchases', manifest.purchases, found.purchases],
    ['cents in all', manifest.purchaseCentsTotal, found.cents],
  ];
  const differ = expected.filter(([, says, holds]) => says !== undefined && says !== holds);
  if (differ.length === 0) return undefined;
  return `${MANIFEST_FILE} says ${differ.map(([what, says]) => `${says} ${what}`).join(', ')}; the parts hold ${differ.map(([what, , holds]) => `${holds} ${what}`).join(', ')}`;
}

function checkBatchViews(layout: DataLayout, folderBucketSeconds: number, findings: Findings): void {
  incompleteViews(layout.servingBatch, BATCH_VIEW_PATTERN, findings);
  for (const name of listNames(layout.servingBatch)) {
    const dir = path.join(layout.servingBatch, name);
    if (!BATCH_VIEW_PATTERN.test(name) || fs.lstatSync(dir, { throwIfNoEntry: false })?.isDirectory() !== true || !fs.existsSync(path.join(dir, '_SUCCESS')))
      continue;
    const manifestFile = path.join(dir, MANIFEST_FILE);
    const manifest = readBatchManifest(dir);
    if (!manifest.found) {
      findings.add('orphaned', dir, `a batch view without ${MANIFEST_FILE}: it cannot say which stream files it absorbed (never served)`);
      continue;
    }
    if (manifest.problem !== undefined) findings.add('damaged', manifestFile, manifest.problem);
    else if (manifest.streamWatermark === undefined || manifest.streamWatermarks === undefined) {
      findings.add(
        'damaged',
        manifestFile,
        'expected a JSON object with a streamWatermark (and streamWatermarks of seqs), found none: cut, corrupted or not ours',
      );
    }
    if (findings.has(manifestFile)) continue;
    const bucketsDir = path.join(dir, BUCKETS_FOLDER);
    const hasBuckets = fs.lstatSync(bucketsDir, { throwIfNoEntry: false })?.isDirectory() === true;
    for (let partition = 0; partition < (manifest.partitions ?? 0); partition++) {
      for (const folder of hasBuckets ? [dir, bucketsDir] : [dir]) {
        const part = path.join(folder, batchPartName(partition));
        if (!fs.lstatSync(part, { throwIfNoEntry: false }))
          findings.add('missing', part, `${MANIFEST_FILE} says the view has ${manifest.partitions} parts; this one is not there`);
      }
    }
    const users = findings.check(dir, () => viewContent((read) => forEachBatchViewPart(dir, 'parts', manifest.parts, read), undefined));
    const usersMismatch = users && contentMismatch(users, manifest.users, 'users', manifest);
    if (usersMismatch !== undefined) findings.add('damaged', dir, usersMismatch);
    if (!hasBuckets) continue;
    const userBuckets = findings.check(bucketsDir, () =>
      viewContent((read) => forEachBatchViewPart(dir, 'buckets', manifest.parts, read), manifest.bucketSeconds ?? folderBucketSeconds),
    );
    const bucketsMismatch = userBuckets && contentMismatch(userBuckets, manifest.userBuckets, '(user, bucket) totals', manifest);
    if (bucketsMismatch !== undefined) findings.add('damaged', bucketsDir, bucketsMismatch);
  }
}

/** Seq ranges `a..b` of (afterSeq, throughSeq] that no delta file covers. */
function uncoveredRanges(covered: ReadonlySet<number>, afterSeq: number, throughSeq: number): string[] {
  const ranges: string[] = [];
  for (let seq = afterSeq + 1; seq <= throughSeq; seq++) {
    if (covered.has(seq)) continue;
    const first = seq;
    while (seq < throughSeq && !covered.has(seq + 1)) seq++;
    ranges.push(first === seq ? `${first}` : `${first}..${seq}`);
  }
  return ranges;
}

/** One stream's ingest log against the files it names, and its compaction records against master/stream/. */
function checkLoggedFiles(stream: DataLayout, findings: Findings): number | undefined {
  const log = findings.check(stream.ingestLog, () => readIngestLog(stream.ingestLog));
  const compactions = findings.check(stream.compactions, () => readCompactions(stream.compactions));
  if (compactions) {
    const recorded = new Set([COMPACTIONS_FILE]);
    for (const file of compactions.files) {
      const full = path.join(stream.masterStream, file.file);
      recorded.add(file.file);
      const stat = fs.lstatSync(full, { throwIfNoEntry: false });
      if (!stat) findings.add('missing', full, `the compaction records list it (seqs ${file.first}..${file.last}, ${file.bytes} bytes); it is not there`);
      else if (stat.isFile() && stat.size !== file.bytes) findings.add('damaged', full, `the compaction records say ${file.bytes} bytes, found ${stat.size}`);
    }
    for (const name of listNames(stream.masterStream)) {
      if (!recorded.has(name) && !HIDDEN_TEMP.test(name))
        findings.add(
          'orphaned',
          path.join(stream.masterStream, name),
          'in master/stream/ but in no compaction record (a compaction cut short, or a replaced file)',
        );
    }
  }
  if (!log || !compactions) return log?.lastSeq;
  if (log.compactedThrough > compactions.compactedThrough) {
    findings.add(
      'missing',
      stream.compactions,
      `the ingest log is folded through seq ${log.compactedThrough}; the compaction records hold seqs 1..${compactions.compactedThrough}`,
    );
  }
  const logged = new LoggedFiles(stream);
  for (const entry of log.entries) {
    const where = logged.locate(entry);
    const stat = fs.lstatSync(where.path, { throwIfNoEntry: false });
    if (!stat)
      findings.add('missing', where.path, `the ingest log has it as seq ${entry.seq} (${entry.size} bytes) and no compaction record says where it went`);
    else if (stat.isFile() && stat.size < where.end)
      findings.add('damaged', where.path, `seq ${entry.seq} was logged with ${where.end} bytes, found ${stat.size}`);
  }
  return log.lastSeq;
}

/** One stream's realtime state: head.json, checkpoints and their parts, delta files and the seqs the head needs. */
function checkRealtime(stream: DataLayout, lastLoggedSeq: number | undefined, bucketSeconds: number, findings: Findings): void {
  const head = findings.check(stream.realtimeHead, () => readRealtimeHead(stream.realtimeHead));
  // head.json proves itself, the log's lines may not (a log cut at a line boundary still reads): the log lost them.
  if (head && lastLoggedSeq !== undefined && head.throughSeq > lastLoggedSeq) {
    findings.add('damaged', stream.ingestLog, `expected seqs through ${head.throughSeq} (head.json reaches it), found through ${lastLoggedSeq}: lines lost`);
  }
  incompleteViews(stream.servingRealtime, REALTIME_VIEW_PATTERN, findings);
  const checkpoints = listRealtimeViews(stream.servingRealtime, (dir, error) => findings.add('damaged', path.join(dir, '_REALTIME.json'), error.message));
  for (const checkpoint of checkpoints) findings.check(checkpoint.dir, () => forEachCheckpointPart(checkpoint.dir, () => undefined));
  const deltas = new DeltaFiles(stream.realtimeDeltas, bucketSeconds);
  const damaged = deltas.damaged();
  for (const error of damaged) findings.add('damaged', error.context.file!, error.message);
  if (!head) return;
  const batchWatermark = batchWatermarkOf(latestBatchView(stream.servingBatch, silentLogger), stream.stream);
  const covered = new Set(deltas.covered());
  for (const error of damaged) {
    const match = DELTA_PATTERN.exec(path.basename(error.context.file!))!;
    for (let seq = Number(match[1]); seq <= Number(match[2]); seq++) covered.delete(seq);
  }
  const missing = uncoveredRanges(covered, batchWatermark, head.throughSeq);
  if (missing.length > 0) {
    const shown = missing.length > 5 ? `${missing.slice(0, 5).join(', ')} and ${missing.length - 5} more ranges` : missing.join(', ');
    findings.add(
      'missing',
      stream.realtimeDeltas,
      `head.json reaches seq ${head.throughSeq} past batch watermark ${batchWatermark}; no whole delta file holds seqs ${shown}`,
    );
  }
}

function checkSpeedOutputs(stream: DataLayout, findings: Findings): void {
  incompleteViews(stream.servingSpeed, SPEED_VIEW_PATTERN, findings);
  for (const window of listSpeedViews(stream.servingSpeed)) {
    findings.check(window.dir, () => viewContent((read) => forEachViewPart(window.dir, read), undefined));
    const info = findings.check(path.join(window.dir, WINDOW_FILE), () => readWindowInfo(window.dir, window.createdAtMs) ?? null);
    if (info === null)
      findings.add(
        'missing',
        path.join(window.dir, WINDOW_FILE),
        'every window says what it is (time kind, bounds); the serving layer cannot say which this is',
      );
  }
  const eventWindows = path.join(path.dirname(stream.speedLock), EVENT_WINDOW_STATE_FILE);
  findings.check(eventWindows, () => checkEventWindowState(eventWindows));
}

/** Checks every file of the data folder (see the top of this module); the findings in path order. */
export function verifyDataFolder(layout: DataLayout): FolderReport {
  const findings = new Findings(layout.root);
  const filesChecked = walk(layout.root, findings);
  const recorded = findings.check(layout.eventTimeSettings, () => recordedBucketSeconds(layout));
  const hasState = ['serving', 'ingest', 'master'].some((name) => fs.existsSync(path.join(layout.root, name)));
  if (recorded === undefined && hasState && !findings.has(layout.eventTimeSettings)) {
    findings.add('missing', layout.eventTimeSettings, 'the folder holds state but no recorded bucket size (every layer records it before writing)');
  }
  const bucketSeconds = recorded ?? DEFAULT_BUCKET_SECONDS;
  checkBatchViews(layout, bucketSeconds, findings);
  for (const stream of allStreamLayouts(layout)) {
    const lastSeq = checkLoggedFiles(stream, findings);
    checkRealtime(stream, lastSeq, bucketSeconds, findings);
    checkSpeedOutputs(stream, findings);
  }
  for (const name of listNames(layout.quarantine)) {
    if (name.endsWith('.replayed')) findings.check(path.join(layout.quarantine, name), () => readReplayLedger(path.join(layout.quarantine, name)));
  }
  return { findings: findings.list(), filesChecked };
}
