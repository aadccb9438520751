// `lambdaflow verify` through the real CLI (issue 24): a folder left by real runs of every layer is clean (and equals
// the independent recount), and the damaged-file corpus — each kind of state file cut at a line boundary and inside a
// line, a flipped byte, emptied, swapped for a link, grown past its size limit — makes it exit 1 naming the file,
// without changing anything in the folder.

import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { describeRun, errorLines, requireBuild, runCli, runCliOk } from '../helpers/cli.js';
import { snapshotTree } from '../helpers/file-system.js';
import { completeBatchViews, completeRealtimeViews } from '../helpers/outputs.js';
import { chunkText, dropStreamFile, expectExactMerge, writeBatchInputs } from '../helpers/pipeline.js';
import { tempRoots } from '../helpers/temp-dirs.js';

const SPEED = ['--batch-interval', '1s', '--slide', '1s', '--window', '2s', '--threads', '1', '--log-level', 'error'];
const newSharedRoot = tempRoots('file');
const newTempRoot = tempRoots();

/**
 * A folder every layer wrote: a batch view of the history; a speed layer that ingested 4 stream files (a window,
 * checkpoints, deltas); a compaction of them (compaction records, a compacted master file, the ingest log folded); 3
 * more files through a speed layer with event-time windows (their state file); and a merge.
 */
async function folderFromRealRuns(): Promise<string> {
  requireBuild();
  const { data } = newSharedRoot();
  writeBatchInputs(data, { 'history.csv': `user_id,event_type,amount,unix_timestamp\n${chunkText(1, 400, 40)}` });
  await runCliOk(['batch', '--data', data, '--threads', '1']);
  for (let i = 0; i < 4; i++) dropStreamFile(data, `early-${i}.csv`, chunkText(10 + i, 120, 40));
  await runCliOk(['speed', '--once', '--data', data, ...SPEED]);
  await runCliOk(['compact', '--data', data, '--min-age', '0']);
  for (let i = 0; i < 3; i++) dropStreamFile(data, `late-${i}.csv`, chunkText(20 + i, 120, 40));
  await runCliOk(['speed', '--once', '--data', data, ...SPEED, '--time', 'event']);
  await expectExactMerge(data);
  return data;
}

async function verify(data: string): Promise<{ code: number | null; findings: string[]; summary: string; stderr: string }> {
  const run = await runCli(['verify', '--data', data]);
  const lines = run.stdout.split('\n').filter((line) => line !== '');
  return { code: run.code, findings: lines.slice(0, -1), summary: lines.at(-1) ?? '', stderr: run.stderr };
}

/** A copy of the folder (links kept as links), to damage. */
function copyOf(data: string): string {
  const { data: copy } = newTempRoot();
  fs.cpSync(data, copy, { recursive: true, verbatimSymlinks: true });
  return copy;
}

// Damages, each to one file.
const lineStarts = (bytes: Buffer): number[] => [
  0,
  ...[...bytes.entries()]
    .filter(([, b]) => b === 0x0a)
    .map(([i]) => i + 1)
    .filter((i) => i < bytes.length),
];
/** Keeps the file's lines before its last (a cut that still parses line by line). */
const cutAtLineBoundary = (file: string): void => {
  const bytes = fs.readFileSync(file);
  fs.writeFileSync(file, bytes.subarray(0, lineStarts(bytes).at(-1)));
};
/** Cuts the file inside its middle line (or inside its only one). */
const cutInsideLine = (file: string): void => {
  const bytes = fs.readFileSync(file);
  const starts = lineStarts(bytes);
  const line = starts[Math.floor(starts.length / 2)]!;
  const end = bytes.indexOf(0x0a, line);
  fs.writeFileSync(file, bytes.subarray(0, line + Math.max(1, Math.floor(((end === -1 ? bytes.length : end) - line) / 2))));
};
/** Flips the low bit of a digit in the middle of the file: still a digit, so the file still parses. */
const flipDigit = (file: string): void => {
  const bytes = fs.readFileSync(file);
  let at = Math.floor(bytes.length / 2);
  while (!(bytes[at]! >= 0x30 && bytes[at]! <= 0x39)) at = (at + 1) % bytes.length;
  bytes[at]! ^= 0x01;
  fs.writeFileSync(file, bytes);
};
/**
 * Flips the low bit of a digit of a total (the last field of the middle line): a batch view's parts carry no check of
 * their own, so verify tells such a flip by the totals its manifest gives (a flip in a user id goes unseen).
 */
const flipTotalDigit = (file: string): void => {
  const bytes = fs.readFileSync(file);
  const starts = lineStarts(bytes);
  bytes[bytes.indexOf(0x0a, starts[Math.floor(starts.length / 2)]) - 1]! ^= 0x01;
  fs.writeFileSync(file, bytes);
};
/** Flips the low bit of the last digit of the manifest's user count. */
const flipUsersDigit = (file: string): void => {
  const bytes = fs.readFileSync(file);
  bytes[bytes.indexOf('"users"') + /^"users": *\d*/.exec(bytes.subarray(bytes.indexOf('"users"')).toString())![0].length - 1]! ^= 0x01;
  fs.writeFileSync(file, bytes);
};
const empty = (file: string): void => fs.writeFileSync(file, '');
/** Swaps the file for a link to it moved beside the data folder (into `outside/`). */
const linkOutside = (file: string, data: string): void => {
  const outside = path.join(data, '..', 'outside', path.basename(file));
  fs.renameSync(file, outside);
  fs.symlinkSync(outside, file);
};
/** The same JSON with trailing spaces past `limitBytes`: still valid JSON. */
const oversized =
  (limitBytes: number) =>
  (file: string): void =>
    fs.appendFileSync(file, ' '.repeat(limitBytes + 1));

type Damage = readonly [name: string, damage: (file: string, data: string) => void];
const CUTS_AND_BYTES: readonly Damage[] = [
  ['cut at a line boundary', cutAtLineBoundary],
  ['cut inside a line', cutInsideLine],
  ['a flipped digit', flipDigit],
  ['emptied', empty],
  ['a link', linkOutside],
];
const BATCH_PART_DAMAGES: readonly Damage[] = CUTS_AND_BYTES.map(([name, damage]) =>
  damage === flipDigit ? ['a flipped digit in a total', flipTotalDigit] : [name, damage],
);
const JSON_DAMAGES = (limitBytes: number): readonly Damage[] => [
  ['cut inside its line', cutInsideLine],
  ['a flipped digit', flipDigit],
  ['emptied', empty],
  ['a link', linkOutside],
  [`past its ${limitBytes} bytes`, oversized(limitBytes)],
];

/** Each kind of state file, found in a folder, with the damages that apply to it. */
const KINDS: readonly { kind: string; file: (data: string) => string; damages: readonly Damage[] }[] = [
  { kind: 'realtime head.json', file: (d) => path.join(d, 'serving/realtime/head.json'), damages: JSON_DAMAGES(4 << 20) },
  { kind: "a checkpoint's _REALTIME.json", file: (d) => path.join(newest(completeRealtimeViews(d)), '_REALTIME.json'), damages: JSON_DAMAGES(4 << 20) },
  { kind: "a checkpoint's part", file: (d) => path.join(newest(completeRealtimeViews(d)), 'part-00000'), damages: CUTS_AND_BYTES },
  { kind: 'a delta file', file: (d) => biggestIn(path.join(d, 'serving/realtime/deltas')), damages: CUTS_AND_BYTES },
  {
    kind: "a batch view's _MANIFEST.json",
    file: (d) => path.join(newest(completeBatchViews(d)), '_MANIFEST.json'),
    damages: [
      ...JSON_DAMAGES(8 << 20).filter(([, damage]) => damage !== flipDigit),
      ['a flipped digit of its user count', flipUsersDigit],
      ['cut at a line boundary', cutAtLineBoundary],
    ],
  },
  { kind: "a batch view's part", file: (d) => biggestIn(newest(completeBatchViews(d))), damages: BATCH_PART_DAMAGES },
  { kind: "a batch view's buckets part", file: (d) => biggestIn(path.join(newest(completeBatchViews(d)), 'buckets')), damages: BATCH_PART_DAMAGES },
  {
    kind: "a speed window's part",
    file: (d) => biggestIn(newest(dirsIn(path.join(d, 'serving/speed')))),
    damages: [
      ['cut inside a line', cutInsideLine],
      ['a link', linkOutside],
    ],
  },
  {
    kind: "a speed window's _WINDOW.json",
    file: (d) => path.join(newest(dirsIn(path.join(d, 'serving/speed'))), '_WINDOW.json'),
    damages: [...JSON_DAMAGES(4096), ['removed', (file) => fs.rmSync(file)]],
  },
  { kind: 'the event-window state', file: (d) => path.join(d, 'ingest/event-windows.state'), damages: CUTS_AND_BYTES },
  { kind: 'the settings file', file: (d) => path.join(d, 'event-time.json'), damages: JSON_DAMAGES(4096) },
  // A log cut at its end reads as a shorter log (a torn last line is a crash, not damage): the head reaching past it tells.
  { kind: 'the ingest log', file: (d) => path.join(d, 'ingest/ingest.log'), damages: CUTS_AND_BYTES },
  {
    kind: 'the compaction records',
    file: (d) => path.join(d, 'master/stream/compactions.jsonl'),
    damages: [
      ['a flipped digit', flipDigit],
      ['emptied', empty],
      ['a link', linkOutside],
    ],
  },
  {
    kind: 'a compacted master file',
    file: (d) => biggestIn(path.join(d, 'master/stream')),
    damages: [
      ['cut at a line boundary', cutAtLineBoundary],
      ['a link', linkOutside],
    ],
  },
];

function newest(dirs: readonly string[]): string {
  expect(dirs.length, 'the folder has one').toBeGreaterThan(0);
  return [...dirs].sort().at(-1)!;
}
function dirsIn(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((name) => !name.startsWith('.'))
    .map((name) => path.join(dir, name));
}
/** The largest regular file of a folder (not `_` files): the one with the most lines to lose. */
function biggestIn(dir: string): string {
  const files = dirsIn(dir).filter((file) => fs.lstatSync(file).isFile() && !path.basename(file).startsWith('_') && !file.endsWith('.jsonl'));
  return files.sort((a, b) => fs.statSync(b).size - fs.statSync(a).size)[0]!;
}

describe('lambdaflow verify', () => {
  let clean: string;
  beforeAll(async () => {
    clean = await folderFromRealRuns();
  }, 60_000);

  it('finds nothing in a folder real runs left (whose merge equals the recount), and exits 0 without writing', async () => {
    const before = snapshotTree(clean);
    const run = await verify(clean);
    expect(run.code, run.stderr).toBe(0);
    expect(run.findings).toEqual([]);
    expect(run.summary).toMatch(new RegExp(`^verify: clean; \\d+ files checked in ${clean}$`));
    expect(run.stderr).toBe('');
    expect(snapshotTree(clean)).toEqual(before);
  });

  describe.each(KINDS)('$kind', ({ file, damages }) => {
    it.each(damages)('%s: exit 1, the file named, nothing changed', async (_name, damage) => {
      const data = copyOf(clean);
      const damaged = file(data);
      damage(damaged, data);
      const before = snapshotTree(data);
      const run = await verify(data);
      expect(run.code, run.stderr).toBe(1);
      // The file, or the folder of a batch view whose parts hold less than its manifest says (not which part).
      const relative = path.relative(data, damaged);
      const named = run.findings.filter((line) => /^(damaged|missing|link) {2}/.test(line)).map((line) => line.split('  ')[1]!);
      expect(
        named.some((found) => relative === found || relative.startsWith(`${found}/`)),
        run.findings.join('\n'),
      ).toBe(true);
      expect(run.summary).toMatch(/^verify: \d+ damaged, \d+ missing, \d+ orphaned, \d+ link; /);
      expect(errorLines(run.stderr)).toEqual([expect.stringMatching(/^lambdaflow verify: error \[E_STATE\]: \d+ problems? found in /)]);
      expect(snapshotTree(data)).toEqual(before);
    });
  });

  it('reports temps a crash left, an incomplete view, a view without a manifest, a logged file gone, a link to a folder', async () => {
    const data = copyOf(clean);
    const realtime = path.join(data, 'serving/realtime');
    fs.writeFileSync(path.join(realtime, 'head.json.123456'), '{}');
    fs.mkdirSync(path.join(data, 'serving/batch/batch-1'));
    const noManifest = path.join(data, 'serving/batch/batch-2');
    fs.cpSync(newest(completeBatchViews(data)), noManifest, { recursive: true });
    fs.rmSync(path.join(noManifest, '_MANIFEST.json'));
    const logged = path.join(data, 'stream_input/late-1.csv');
    fs.rmSync(logged);
    fs.symlinkSync(path.join(data, '..', 'outside'), path.join(data, 'serving/batch/batch-3'));
    const run = await verify(data);
    expect(run.code).toBe(1);
    expect(run.findings).toEqual([
      expect.stringMatching(/^orphaned {2}serving\/batch\/batch-1 {2}.*without _SUCCESS/),
      expect.stringMatching(/^orphaned {2}serving\/batch\/batch-2 {2}.*without _MANIFEST\.json/),
      expect.stringMatching(/^link {2}serving\/batch\/batch-3 {2}a symbolic link/),
      expect.stringMatching(/^orphaned {2}serving\/realtime\/head\.json\.123456 {2}a write-file-atomic temp of head\.json/),
      expect.stringMatching(/^missing {2}stream_input\/late-1\.csv {2}the ingest log has it as seq 6 \(\d+ bytes\)/),
    ]);
    expect(run.summary).toMatch(/^verify: 0 damaged, 1 missing, 3 orphaned, 1 link; /);
  });

  it('refuses a --data folder that does not exist (exit 2), and writes nothing', async () => {
    const { root } = newTempRoot();
    const run = await runCli(['verify', '--data', path.join(root, 'nowhere')]);
    expect(run.code, describeRun(run)).toBe(2);
    expect(fs.existsSync(path.join(root, 'nowhere'))).toBe(false);
  });
});
