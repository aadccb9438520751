// The batch layer end to end through the real CLI (`node dist/main.js`) on temporary data folders: totals against an
// independent recount for 1, 2 and 4 threads, many small files and one big split file, the manifest, bad-row modes
// and their quarantine, atomic publish, gen-batch, option placement and --help.

import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { errorLines, runCli, runCliOk, requireBuild } from '../helpers/cli.js';
import {
  type BatchViewOnDisk,
  MERGED_HEADER,
  completeBatchViews,
  latestBatchView,
  quarantineDir,
  quarantineNames,
  readMergedViewText,
} from '../helpers/outputs.js';
import { writeBatchInputs } from '../helpers/pipeline.js';
import { seeded } from '../helpers/prng.js';
import {
  REFERENCE_BUCKET_SECONDS,
  REFERENCE_HEADER,
  type Recount,
  addPurchase,
  emptyRecount,
  expectedBucketLines,
  expectedViewLines,
  fnv1aOf,
  recountFile,
} from '../helpers/reference.js';
import { tempRoots } from '../helpers/temp-dirs.js';

const PARTITIONS = 8; // the batch command's default --partitions
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const QUARANTINE_PREFIX_BYTES = 1024;
const CLI = { timeout: 60_000 };

// Data folders are made while collecting and shared by a describe block's tests: removed once the file is done.
const newTempRoot = tempRoots('file');
const tempData = (): string => newTempRoot().data;

beforeAll(() => requireBuild());

// ---------------------------------------------------------------------------------------------------------------
// Expected outputs, computed from the inputs the test wrote (reference.ts never calls src/).

interface Expected {
  readonly recount: Recount;
  /** Per input file name: its bad rows (line, reason, text). */
  readonly badByFile: Map<string, Recount['bad']>;
  /** Input file names in the order the manifest lists them, with sizes. */
  readonly inputs: { name: string; size: number }[];
}

/** Recounts every input with a plain comma split; `manual` adds rows the split cannot read (quoted fields). */
function recountInputs(files: Readonly<Record<string, string | Uint8Array>>, manual: Record<string, (r: Recount) => void> = {}): Expected {
  const recount = emptyRecount();
  const badByFile = new Map<string, Recount['bad']>();
  for (const name of Object.keys(files).sort()) {
    const bytes = Buffer.from(files[name]!);
    if (manual[name]) {
      manual[name](recount);
      continue;
    }
    const before = recount.bad.length;
    recountFile(bytes.toString('utf8'), recount);
    const bad = recount.bad.slice(before);
    if (bad.length > 0) badByFile.set(name, bad);
  }
  const inputs = Object.keys(files)
    .sort()
    .map((name) => ({ name, size: Buffer.byteLength(files[name]!) }));
  return { recount, badByFile, inputs };
}

function expectedMergedView(expected: Expected): string {
  return `${MERGED_HEADER}\n${expectedViewLines(expected.recount.totals)
    .map((line) => `${line}\n`)
    .join('')}`;
}

/** Each part file's exact text: the users whose FNV-1a hash mod R is its number, sorted. */
function expectedParts(expected: Expected): Map<string, string> {
  const lines = expectedViewLines(expected.recount.totals);
  const users = [...expected.recount.totals.keys()].sort();
  const parts = new Map<string, string>();
  for (let p = 0; p < PARTITIONS; p++) parts.set(`part-${String(p).padStart(5, '0')}`, '');
  users.forEach((user, i) => {
    const name = `part-${String(fnv1aOf(user) % PARTITIONS).padStart(5, '0')}`;
    parts.set(name, parts.get(name)! + `${lines[i]}\n`);
  });
  return parts;
}

function expectedQuarantine(bad: Recount['bad']): string {
  return bad.map((row) => `${row.line}\t${row.reason}\t${row.reason === 'line_too_long' ? row.text.slice(0, QUARANTINE_PREFIX_BYTES) : row.text}\n`).join('');
}

/** Each buckets/ part's text: the (user, bucket) totals of the users its number owns. */
function expectedBucketParts(expected: Expected): Map<string, string> {
  const parts = new Map<string, string>();
  for (let p = 0; p < PARTITIONS; p++) parts.set(`part-${String(p).padStart(5, '0')}`, '');
  for (const user of [...expected.recount.buckets.keys()].sort()) {
    const name = `part-${String(fnv1aOf(user) % PARTITIONS).padStart(5, '0')}`;
    const lines = expectedBucketLines(new Map([[user, expected.recount.buckets.get(user)!]]));
    parts.set(name, parts.get(name)! + lines.map((line) => `${line}\n`).join(''));
  }
  return parts;
}

/** Each part's lines sorted: bucket parts are written in no particular order (as Spark writes them). */
function linesSorted(parts: Map<string, string>): Map<string, string[]> {
  return new Map([...parts].map(([name, text]) => [name, text.split('\n').filter(Boolean).sort()]));
}

/** Checks one published batch view against the expectation: files, parts, per-bucket parts, manifest. */
function expectBatchView(view: BatchViewOnDisk, expected: Expected, threads: number): void {
  const partNames = Array.from({ length: PARTITIONS }, (_, p) => `part-${String(p).padStart(5, '0')}`);
  expect(view.files).toEqual([...partNames, '_MANIFEST.json', '_SUCCESS', 'buckets'].sort());
  expect(fs.readFileSync(path.join(view.dir, '_SUCCESS'), 'utf8')).toBe('');
  expect(view.parts).toEqual(expectedParts(expected));
  expect(linesSorted(view.bucketParts)).toEqual(linesSorted(expectedBucketParts(expected)));
  expect(view.manifest.bucketSeconds).toBe(REFERENCE_BUCKET_SECONDS);
  expect(view.manifest.userBuckets).toBe([...expected.recount.buckets.values()].reduce((n, b) => n + b.size, 0));
  const r = expected.recount;
  const m = view.manifest;
  expect(m.streamWatermark).toBe(0);
  expect(m.inputs).toEqual(expected.inputs.map((i) => ({ name: i.name, source: 'batch_input', size: i.size })));
  expect(m.rowsRead).toBe(r.rows);
  expect(m.purchases).toBe(r.purchases);
  expect(m.views).toBe(r.views);
  const byReason: Record<string, number> = {
    field_count: 0,
    empty_user_id: 0,
    bad_user_id: 0,
    unknown_event_type: 0,
    bad_amount: 0,
    bad_timestamp: 0,
    bad_quoting: 0,
    line_too_long: 0,
  };
  for (const row of r.bad) byReason[row.reason]!++;
  expect(m.badRows).toEqual(byReason);
  expect(m.badRowsTotal).toBe(r.bad.length);
  expect(m.rowsRead).toBe(r.purchases + r.views + r.bad.length);
  expect(m.users).toBe(r.totals.size);
  expect(m.threads).toBe(threads);
  expect(typeof m.elapsedMs).toBe('number');
  expect(m.elapsedMs).toBeGreaterThanOrEqual(0);
}

/** No temporary directories or files left in serving/batch by a finished or failed run. */
function expectNoTemps(data: string): void {
  const parent = path.join(data, 'serving', 'batch');
  if (!fs.existsSync(parent)) return;
  expect(fs.readdirSync(parent).filter((n) => n.startsWith('.'))).toEqual([]);
}

// ---------------------------------------------------------------------------------------------------------------
// Inputs.

const USERS = ['u1', 'u2', 'u3', 'a', 'B', '10', '9', 'ü1', '中文', '😀x', 'Ａx', 'user with space', 'z-last'];
const BAD_LINES = [
  'oops',
  'u1,purchase,1.234,5',
  'u1,buy,1.00,5',
  'u2,view,0.00,-5',
  ',purchase,1.00,5',
  'u3,purchase,1.00,5,extra',
  'u1,purchase,1e3,5',
  'u\u00011,purchase,1.00,5',
];

function row(random: ReturnType<typeof seeded>, users: readonly string[]): string {
  const user = random.pick(users);
  const purchase = random.chance(0.3);
  const cents = purchase ? random.between(-500, 99_999) : 0;
  const sign = cents < 0 ? '-' : '';
  const abs = Math.abs(cents);
  const amount = random.chance(0.2) && abs % 100 === 0 ? `${sign}${abs / 100}` : `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
  return `${user},${purchase ? 'purchase' : 'view'},${amount},${1_700_000_000 + random.int(1e6)}`;
}

/** 30 small files with every allowed variation, plus an empty file, an overlong line and quoted rows. */
function smallFiles(seed: number): Record<string, string | Uint8Array> {
  const random = seeded(seed);
  const files: Record<string, string | Uint8Array> = {};
  for (let f = 0; f < 30; f++) {
    const eol = ['\n', '\r\n', '\r'][f % 3]!;
    const lines: string[] = f % 4 === 0 ? [REFERENCE_HEADER] : [];
    const count = random.between(50, 250);
    for (let i = 0; i < count; i++) {
      if (random.chance(0.03)) lines.push('');
      else if (random.chance(0.015)) lines.push(random.pick(BAD_LINES));
      else lines.push(row(random, USERS));
    }
    const text = lines.join(eol) + (f % 5 === 0 ? '' : eol);
    files[`events-${String(f).padStart(5, '0')}.csv`] = f % 6 === 0 ? Buffer.concat([BOM, Buffer.from(text)]) : text;
  }
  files['empty.csv'] = '';
  files['long-line.csv'] = `u1,purchase,1.00,1\n${'L'.repeat(70_000)}\nu2,purchase,2.00,2\n`;
  files['quoted.csv'] = '"smith, j",purchase,"1.50",17\n"say ""hi""",purchase,2.00,18\r\n"smith, j",purchase,0.25,19\nplain,purchase,"3.00",20\n';
  return files;
}

const QUOTED_MANUAL = {
  'quoted.csv': (r: Recount): void => {
    addPurchase(r, 'smith, j', 150n, 17);
    addPurchase(r, 'say "hi"', 200n, 18);
    addPurchase(r, 'smith, j', 25n, 19);
    addPurchase(r, 'plain', 300n, 20);
    r.rows += 4;
    r.purchases += 4;
  },
};

/** Things in batch_input/ the batch must not read. */
function addIgnoredEntries(data: string): void {
  const dir = path.join(data, 'batch_input');
  fs.mkdirSync(path.join(dir, 'x.csv'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'x.csv', 'inner.csv'), 'ghost,purchase,1000.00,1\n');
  fs.writeFileSync(path.join(dir, 'notes.txt'), 'ghost,purchase,1000.00,1\n');
  fs.writeFileSync(path.join(dir, '.partial.csv'), 'ghost,purchase,1000.00,1\n');
}

/** One file of about `bytes` bytes: rows, CRLF in places, blank lines, and known bad rows in its second half. */
function bigFile(bytes: number, seed: number, badRows = true): string {
  const random = seeded(seed);
  const users = Array.from({ length: 3_000 }, (_, i) => `user${i}`);
  const lines: string[] = [REFERENCE_HEADER];
  let size = 0;
  while (size < bytes) {
    let line: string;
    if (badRows && size > bytes / 2 && random.chance(0.0005)) line = random.pick(BAD_LINES);
    else if (random.chance(0.001)) line = '';
    else line = row(random, users);
    const eol = random.chance(0.1) ? '\r\n' : '\n';
    lines.push(line + eol);
    size += line.length + eol.length;
  }
  if (badRows) lines.push('final,purchase,bad,1\n', 'last,purchase,0.01,1'); // a bad row near the end; no final newline
  return lines[0] + '\n' + lines.slice(1).join('');
}

// ---------------------------------------------------------------------------------------------------------------

describe('batch on many small files', CLI, () => {
  const data = tempData();
  const files = smallFiles(1);
  writeBatchInputs(data, files);
  addIgnoredEntries(data);
  const expected = recountInputs(files, QUOTED_MANUAL);
  const views = new Map<number, BatchViewOnDisk>();

  it('the inputs exercise what they claim', () => {
    expect(expected.recount.purchases).toBeGreaterThan(500);
    expect(expected.badByFile.size).toBeGreaterThan(3);
    expect(expected.badByFile.get('long-line.csv')).toEqual([{ line: 2, reason: 'line_too_long', text: 'L'.repeat(70_000) }]);
    expect([...expected.recount.totals.keys()]).toContain('😀x');
  });

  it.each([1, 2, 4])('--threads %i publishes parts, manifest and _SUCCESS matching the recount', async (threads) => {
    const result = await runCliOk(['batch', '--data', data, '--threads', String(threads)]);
    const view = latestBatchView(data);
    expect(result.stdout).toContain(view.dir);
    expectBatchView(view, expected, threads);
    expectNoTemps(data);
    views.set(threads, view);
  });

  it.each([1, 2, 4])('merge --once after --threads %i writes the exact merged view', async (threads) => {
    // Rebuild the state of that run: only its view is complete.
    const view = views.get(threads)!;
    try {
      for (const dir of completeBatchViews(data)) if (dir !== view.dir) fs.rmSync(path.join(dir, '_SUCCESS'));
      expect(completeBatchViews(data)).toEqual([view.dir]);
      await runCliOk(['merge', '--once', '--data', data]);
      expect(readMergedViewText(data)).toBe(expectedMergedView(expected));
    } finally {
      for (const other of views.values()) fs.writeFileSync(path.join(other.dir, '_SUCCESS'), '');
    }
  });

  it('part files are byte-identical for 1, 2 and 4 threads', () => {
    expect(views.size).toBe(3);
    expect(views.get(4)!.parts).toEqual(views.get(1)!.parts);
    expect(views.get(2)!.parts).toEqual(views.get(1)!.parts);
  });

  it('merged view is sorted by user id with JS string comparison, amounts with two decimals, quoted ids quoted', () => {
    const lines = readMergedViewText(data).split('\n');
    expect(lines[0]).toBe(MERGED_HEADER);
    expect(lines.at(-1)).toBe('');
    const body = lines.slice(1, -1);
    expect(body).toContain('"smith, j",2,1.75');
    expect(body).toContain('"say ""hi""",1,2.00');
    expect(body).toContain('plain,1,3.00');
    for (const line of body) expect(line).toMatch(/,\d+,-?\d+\.\d\d$/);
    expect(body.some((l) => l.startsWith('ghost'))).toBe(false);
    const ids = body.filter((l) => !l.startsWith('"')).map((l) => l.split(',')[0]!);
    expect(ids).toEqual([...ids].sort());
    expect(ids.indexOf('😀x')).toBeLessThan(ids.indexOf('Ａx')); // UTF-16 order, not code point order
  });

  it('permissive mode (the default) quarantines bad rows per file with file line numbers', () => {
    const names = [...expected.badByFile.keys()].map((n) => `${n}.bad`).sort();
    expect(quarantineNames(data)).toEqual(names);
    for (const [name, bad] of expected.badByFile) {
      expect(fs.readFileSync(path.join(quarantineDir(data), `${name}.bad`), 'utf8'), name).toBe(expectedQuarantine(bad));
    }
  });
});

describe('batch on one big file split into byte ranges', CLI, () => {
  const data = tempData();
  const text = bigFile(4_500_000, 2);
  const files = { 'big.csv': text };
  writeBatchInputs(data, files);
  const expected = recountInputs(files);
  const views = new Map<number, BatchViewOnDisk>();

  it('the file has bad rows in its second half, CRLF and no final newline', () => {
    const bad = expected.badByFile.get('big.csv')!;
    expect(bad.length).toBeGreaterThan(3);
    const lines = text.split(/\r\n|\r|\n/).length;
    for (const row of bad) expect(row.line).toBeGreaterThan(lines / 2);
    expect(text).toContain('\r\n');
    expect(text.endsWith('\n')).toBe(false);
  });

  it.each([1, 2, 4])('--threads %i: a byte range per thread, exact parts and quarantine line numbers', async (threads) => {
    await runCliOk(['batch', '--data', data, '--threads', String(threads)]);
    const view = latestBatchView(data);
    expectBatchView(view, expected, threads);
    expect(view.manifest.mapTasks).toBe(threads);
    expect(fs.readFileSync(path.join(quarantineDir(data), 'big.csv.bad'), 'utf8')).toBe(expectedQuarantine(expected.badByFile.get('big.csv')!));
    await runCliOk(['merge', '--once', '--data', data]);
    expect(readMergedViewText(data)).toBe(expectedMergedView(expected));
    views.set(threads, view);
  });

  it('part files are byte-identical for 1 and 4 threads', () => {
    expect(views.get(4)!.parts).toEqual(views.get(1)!.parts);
    expect(views.get(2)!.parts).toEqual(views.get(1)!.parts);
  });

  it('only the newest complete views are kept (default --keep-views 3)', () => {
    expect(completeBatchViews(data)).toEqual([...views.values()].map((v) => v.dir));
  });
});

describe('bad-row modes', CLI, () => {
  const files = {
    'a.csv': 'u1,purchase,1.00,1\nu1,purchase,oops,2\n\nu2,purchase,2.50,3\n',
    'b.csv': `${REFERENCE_HEADER}\r\nu3,view,0.00,1\r\nu3,purchase,3.00,x\r\nu1,purchase,0.10,2\r\n`,
  };
  const expected = recountInputs(files);

  it('the expectation is what the files say', () => {
    expect(expected.badByFile.get('a.csv')).toEqual([{ line: 2, reason: 'bad_amount', text: 'u1,purchase,oops,2' }]);
    expect(expected.badByFile.get('b.csv')).toEqual([{ line: 3, reason: 'bad_timestamp', text: 'u3,purchase,3.00,x' }]);
  });

  it('permissive writes <file>.bad as line<TAB>reason<TAB>original, and a rerun replaces (never appends)', async () => {
    const data = tempData();
    writeBatchInputs(data, files);
    for (let run = 0; run < 2; run++) {
      await runCliOk(['batch', '--data', data, '--threads', '2', '--mode', 'permissive']);
      expect(quarantineNames(data)).toEqual(['a.csv.bad', 'b.csv.bad']);
      expect(fs.readFileSync(path.join(quarantineDir(data), 'a.csv.bad'), 'utf8')).toBe('2\tbad_amount\tu1,purchase,oops,2\n');
      expect(fs.readFileSync(path.join(quarantineDir(data), 'b.csv.bad'), 'utf8')).toBe('3\tbad_timestamp\tu3,purchase,3.00,x\n');
    }
    expectBatchView(latestBatchView(data), expected, 2);
  });

  it('drop counts bad rows only: no quarantine file, the same totals', async () => {
    const data = tempData();
    writeBatchInputs(data, files);
    await runCliOk(['batch', '--data', data, '--threads', '2', '--mode', 'drop']);
    expect(quarantineNames(data)).toEqual([]);
    expectBatchView(latestBatchView(data), expected, 2);
    await runCliOk(['merge', '--once', '--data', data]);
    expect(readMergedViewText(data)).toBe(`${MERGED_HEADER}\nu1,2,1.10\nu2,1,2.50\n`);
  });

  it('failfast exits 2 naming the file, line and reason of a bad row in the second half of a split file; nothing published', async () => {
    const data = tempData();
    const good = bigFile(3_000_000, 3, false);
    const lines = good.split('\n');
    const at = Math.floor(lines.length * 0.8);
    lines.splice(at, 0, 'u1,purchase,12.345,1');
    const text = lines.join('\n');
    const badLine = text.split(/\r\n|\r|\n/).indexOf('u1,purchase,12.345,1') + 1;
    writeBatchInputs(data, { 'big.csv': text });
    const result = await runCli(['batch', '--data', data, '--threads', '2', '--mode', 'failfast']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(path.join(data, 'batch_input', 'big.csv'));
    expect(result.stderr).toContain(`line ${badLine}`);
    expect(result.stderr).toContain('bad_amount');
    expect(result.stderr.trim().split('\n')).toHaveLength(1); // one clear line, no stack trace
    expect(completeBatchViews(data)).toEqual([]);
    expect(quarantineNames(data)).toEqual([]);
    expectNoTemps(data);
  });

  it('failfast with bad rows in two files names one of them exactly', async () => {
    const data = tempData();
    writeBatchInputs(data, files);
    const result = await runCli(['batch', '--data', data, '--threads', '2', '--mode', 'failfast']);
    expect(result.code).toBe(2);
    const named = [
      [path.join(data, 'batch_input', 'a.csv'), 'line 2', 'bad_amount'],
      [path.join(data, 'batch_input', 'b.csv'), 'line 3', 'bad_timestamp'],
    ].filter((parts) => parts.every((p) => result.stderr.includes(p)));
    expect(named).toHaveLength(1);
    expect(completeBatchViews(data)).toEqual([]);
  });

  it('failfast without bad rows succeeds', async () => {
    const data = tempData();
    const clean = { 'c.csv': 'u1,purchase,1.00,1\nu2,view,0.00,2\n' };
    writeBatchInputs(data, clean);
    await runCliOk(['batch', '--data', data, '--threads', '1', '--mode', 'failfast']);
    expectBatchView(latestBatchView(data), recountInputs(clean), 1);
  });

  it('an unknown mode is refused with exit code 2', async () => {
    const data = tempData();
    writeBatchInputs(data, files);
    const result = await runCli(['batch', '--data', data, '--mode', 'lenient']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--mode');
    expect(completeBatchViews(data)).toEqual([]);
  });
});

describe('edge inputs', CLI, () => {
  it('an empty file, a directory named x.csv and an empty batch_input are fine', async () => {
    const data = tempData();
    writeBatchInputs(data, { 'empty.csv': '' });
    fs.mkdirSync(path.join(data, 'batch_input', 'x.csv'));
    await runCliOk(['batch', '--data', data, '--threads', '2']);
    const view = latestBatchView(data);
    expectBatchView(view, recountInputs({ 'empty.csv': '' }), 2);
    await runCliOk(['merge', '--once', '--data', data]);
    expect(readMergedViewText(data)).toBe(`${MERGED_HEADER}\n`);

    fs.rmSync(path.join(data, 'batch_input'), { recursive: true });
    fs.mkdirSync(path.join(data, 'batch_input'));
    await runCliOk(['batch', '--data', data, '--threads', '1']);
    expect(latestBatchView(data).manifest.inputs).toEqual([]);
  });

  it('regression: a good row after an overlong line ended by a lone CR was lost when a 4 MiB read ended right after that CR', async () => {
    // The worker reads ranges in 4 MiB chunks. Here the first chunk of the first range ends exactly with the CR that
    // ends a (bad, overlong) line 2; the parser used to consume that CR and take line 3 for the rest of line 2.
    const data = tempData();
    const chunk = 4 << 20;
    const header = `${REFERENCE_HEADER}\n`;
    const filler = 'f1,purchase,0.01,1\n';
    let text = header + 'x'.repeat(chunk - 1 - header.length) + '\r' + 'kept,purchase,7.00,1\n';
    text += filler.repeat(Math.ceil((17 * (1 << 20) - text.length) / filler.length)); // > 16 MiB: ranges > 4 MiB at 1 thread
    expect(text.indexOf('\r')).toBe(chunk - 1);
    const files = { 'cr.csv': text };
    writeBatchInputs(data, files);
    const expected = recountInputs(files);
    expect(expected.recount.totals.get('kept')).toEqual({ count: 1, cents: 700n });
    await runCliOk(['batch', '--data', data, '--threads', '1']);
    await runCliOk(['merge', '--once', '--data', data]);
    expect(readMergedViewText(data)).toBe(expectedMergedView(expected));
  });

  it('regression: batch never finished when a planned cut fell inside a last line without newline', async () => {
    // 2 MiB + 32 bytes: target ranges of 1 MiB, so the second cut is planned at 2 MiB, inside the 64-byte last line.
    // lineStartFinder() found no line start, reached the last byte and re-read it forever (`position += length - 1`
    // with length 1), spinning at 100 % CPU until killed.
    const data = tempData();
    const row = 'u0000001,purchase,1.00,17000000\n';
    expect(row).toHaveLength(32);
    const tail = ',purchase,1.00,1';
    const text = row.repeat(65_535) + 'v'.repeat(64 - tail.length) + tail;
    expect(text.length).toBe(2 * (1 << 20) + 32);
    const files = { 'no-final-newline.csv': text };
    writeBatchInputs(data, files);
    await runCliOk(['batch', '--data', data, '--threads', '1'], { timeoutMs: 10_000 });
    await runCliOk(['merge', '--once', '--data', data]);
    expect(readMergedViewText(data)).toBe(expectedMergedView(recountInputs(files)));
  });
});

describe('atomic publish', CLI, () => {
  it('merge --once ignores a later batch directory without _SUCCESS, and a hidden temp directory', async () => {
    const data = tempData();
    const files = smallFiles(4);
    writeBatchInputs(data, files);
    await runCliOk(['batch', '--data', data, '--threads', '2']);
    const real = latestBatchView(data);
    const servingBatch = path.join(data, 'serving', 'batch');
    const bogus = path.join(servingBatch, `batch-${real.ms + 100_000}`);
    fs.mkdirSync(bogus);
    fs.writeFileSync(path.join(bogus, 'part-00000'), 'bogus,999,9.99\n');
    fs.writeFileSync(path.join(bogus, '_MANIFEST.json'), JSON.stringify({ streamWatermark: 0 }));
    const temp = path.join(servingBatch, `.batch-${real.ms + 200_000}.tmp-999999-1`);
    fs.mkdirSync(temp);
    fs.writeFileSync(path.join(temp, 'part-00000'), 'bogus,999,9.99\n');
    fs.writeFileSync(path.join(temp, '_SUCCESS'), '');

    await runCliOk(['merge', '--once', '--data', data]);
    const expected = recountInputs(files, QUOTED_MANUAL);
    expect(readMergedViewText(data)).toBe(expectedMergedView(expected));
    expect(readMergedViewText(data)).not.toContain('bogus');

    // The same directory, once complete, is what merge serves: the check above could have failed.
    fs.writeFileSync(path.join(bogus, '_SUCCESS'), '');
    await runCliOk(['merge', '--once', '--data', data]);
    expect(readMergedViewText(data)).toBe(`${MERGED_HEADER}\nbogus,999,9.99\n`);
  });

  it('merge --once with no batch view writes a header-only view', async () => {
    const data = tempData();
    await runCliOk(['merge', '--once', '--data', data]);
    expect(readMergedViewText(data)).toBe(`${MERGED_HEADER}\n`);
  });
});

describe('gen-batch', CLI, () => {
  const genArgs = (data: string, seed: number): string[] => [
    'gen-batch',
    '--data',
    data,
    '--rows',
    '30000',
    '--files',
    '3',
    '--users',
    '500',
    '--seed',
    String(seed),
  ];
  const readInputs = (data: string): Map<string, Buffer> => {
    const dir = path.join(data, 'batch_input');
    return new Map(
      fs
        .readdirSync(dir)
        .sort()
        .map((n) => [n, fs.readFileSync(path.join(dir, n))]),
    );
  };

  it('the same seed gives byte-identical files; a non-empty folder needs --force; the batch recounts them exactly', async () => {
    const data = tempData();
    await runCliOk(genArgs(data, 7));
    const first = readInputs(data);
    expect([...first.keys()]).toEqual(['events-00000.csv', 'events-00001.csv', 'events-00002.csv']);

    const refused = await runCli(genArgs(data, 7));
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('--force');
    expect(readInputs(data)).toEqual(first);

    await runCliOk([...genArgs(data, 7), '--force']);
    expect(readInputs(data)).toEqual(first);

    // What was generated follows the contract: header, 30,000 rows, ~30 % purchases, 2 decimals, time increasing.
    const all = [...first.values()].map((b) => b.toString('utf8'));
    const rows = all.flatMap((t) => {
      const lines = t.split('\n');
      expect(lines[0]).toBe(REFERENCE_HEADER);
      expect(lines.at(-1)).toBe('');
      return lines.slice(1, -1);
    });
    expect(rows).toHaveLength(30_000);
    const purchases = rows.filter((r) => r.split(',')[1] === 'purchase');
    expect(purchases.length / rows.length).toBeGreaterThan(0.25);
    expect(purchases.length / rows.length).toBeLessThan(0.35);
    expect(rows.filter((r) => !/^[^,]+,(view|purchase),\d+\.\d\d,\d+$/.test(r))).toEqual([]);
    const times = rows.map((r) => Number(r.split(',')[3]));
    expect(times.filter((t, i) => i > 0 && t < times[i - 1]!)).toEqual([]);

    const files = Object.fromEntries([...first.entries()].map(([n, b]) => [n, b.toString('utf8')]));
    await runCliOk(['batch', '--data', data, '--threads', '2']);
    await runCliOk(['merge', '--once', '--data', data]);
    expect(readMergedViewText(data)).toBe(expectedMergedView(recountInputs(files)));

    await runCliOk([...genArgs(data, 8), '--force']);
    expect(readInputs(data)).not.toEqual(first);
  });

  it("refuses a folder holding a user's files without --force, deleting nothing", async () => {
    const data = tempData();
    writeBatchInputs(data, { 'mine.csv': 'me,purchase,1.00,1\n', 'notes.txt': 'keep me\n' });
    const result = await runCli(genArgs(data, 1));
    expect(result.code).not.toBe(0);
    expect(readInputs(data)).toEqual(
      new Map([
        ['mine.csv', Buffer.from('me,purchase,1.00,1\n')],
        ['notes.txt', Buffer.from('keep me\n')],
      ]),
    );
  });
});

describe('command line', CLI, () => {
  it('options before the command name work too', async () => {
    const data = tempData();
    const files = { 'a.csv': 'u1,purchase,1.00,1\nbad\nu2,purchase,2.00,2\n' };
    writeBatchInputs(data, files);
    await runCliOk(['--data', data, '--threads', '2', '--mode', 'drop', 'batch']);
    const view = latestBatchView(data);
    expectBatchView(view, recountInputs(files), 2);
    expect(quarantineNames(data)).toEqual([]);
    await runCliOk(['--data', data, 'merge', '--once']);
    expect(readMergedViewText(data)).toBe(`${MERGED_HEADER}\nu1,1,1.00\nu2,1,2.00\n`);
  });

  it('--help exits 0 for the program and for batch', async () => {
    const program = await runCli(['--help']);
    expect(program.code).toBe(0);
    for (const command of ['gen-batch', 'batch', 'merge']) expect(program.stdout).toContain(command);
    const batch = await runCli(['batch', '--help']);
    expect(batch.code).toBe(0);
    for (const flag of ['--data', '--threads', '--mode', '--partitions']) expect(batch.stdout).toContain(flag);
  });

  it('a bad --threads value is refused with exit code 2 naming the flag', async () => {
    const data = tempData();
    const result = await runCli(['batch', '--data', data, '--threads', 'zero']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--threads');
  });
});

describe('event-time buckets', CLI, () => {
  it('records the bucket size once, writes buckets/ parts of that size, and refuses another size with one clear error', async () => {
    const data = tempData();
    const files = { 'a.csv': 'u1,purchase,1.00,86399\nu1,purchase,2.00,86400.9\nu2,purchase,4.00,90000\nu2,view,0,1\n' };
    writeBatchInputs(data, files);
    await runCliOk(['batch', '--data', data, '--bucket', '1d']);
    expect(JSON.parse(fs.readFileSync(path.join(data, 'event-time.json'), 'utf8'))).toEqual({ bucketSeconds: 86_400 });
    const view = latestBatchView(data);
    expect(view.manifest.bucketSeconds).toBe(86_400);
    expect([...view.bucketParts.values()].join('').split('\n').filter(Boolean).sort()).toEqual(['u1,0,1,1.00', 'u1,86400,1,2.00', 'u2,86400,1,4.00']);
    // Without --bucket the recorded size is used; another one is refused before anything is read.
    await runCliOk(['batch', '--data', data]);
    expect(latestBatchView(data).manifest.bucketSeconds).toBe(86_400);
    const refused = await runCli(['batch', '--data', data, '--bucket', '1h']);
    expect(refused.code).toBe(2);
    expect(errorLines(refused.stderr)).toEqual([
      `lambdaflow batch: error [E_OPTIONS]: --bucket: the data folder ${data} keeps 1d buckets, not 1h; changing the bucket size means a recompute in a new data folder (or leave --bucket out)`,
    ]);
  });
});
