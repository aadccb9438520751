// docs/spark/batch_job.py, the PySpark batch job, checked where there is no Spark: its row rules (pure Python) give
// lambdaflow's verdicts on the hostile corpus and on generated files; it reads exactly the files `batch` reads, from
// the `master-files` command; and its driver, run against a one-process stand-in for pyspark
// (test/fixtures/fake-pyspark), publishes a view that `merge` serves as it serves our own batch view.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { UserAggTable } from '../../src/core/agg-table.js';
import { BAD_REASONS, parseWhole } from '../../src/core/event-parser.js';
import { BUCKETS_HEADER } from '../../src/core/view-format.js';
import { type FileSpec, FIXTURE_DIR, batchCorpusFiles, expectFile, renderFile, streamFiles } from '../fixtures/generate-hostile.js';
import { MAIN, listeningUrl, requireBuild, runCli, runCliOk, startCli } from '../helpers/cli.js';
import { httpRequest, jsonOf } from '../helpers/http-client.js';
import {
  type BatchViewOnDisk,
  batchLeftovers,
  completeBatchViews,
  readBatchView,
  readManifest,
  readMergedViewText,
  readPartTotals,
  plain,
} from '../helpers/outputs.js';
import { dropStreamFile, waitUntilReady } from '../helpers/pipeline.js';
import { expectRangeAnswersEqualRecount } from '../helpers/range-recount.js';
import { seeded, type Random } from '../helpers/prng.js';
import { emptyRecount, expectedBucketLines, recountDataFolder, recountFile, expectedMergedViewText, splitLines } from '../helpers/reference.js';
import { tempRoots } from '../helpers/temp-dirs.js';

const JOB = fileURLToPath(new URL('../../docs/spark/batch_job.py', import.meta.url));
const FAKE_PYSPARK = fileURLToPath(new URL('../fixtures/fake-pyspark', import.meta.url));
const HAS_PYTHON = spawnSync('python3', ['--version']).status === 0;

const newTempRoot = tempRoots('file');

/** Runs python3 (no bytecode written beside the job) with a JSON request on stdin; returns the JSON it prints. */
function runPython(args: readonly string[], input: unknown = null, env: Record<string, string> = {}): string {
  const run = spawnSync('python3', args, {
    input: JSON.stringify(input),
    encoding: 'utf8',
    maxBuffer: 256 << 20,
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', ...env },
  });
  if (run.status !== 0) throw new Error(`python3 ${args.slice(0, 2).join(' ')} exited ${run.status}: ${run.stderr}`);
  return run.stdout;
}

/** Imports the job as a module, without pyspark on the path: the row rules must need none of it. */
const IMPORT_JOB = `
import json, sys
sys.path.insert(0, ${JSON.stringify(path.dirname(JOB))})
import batch_job as job
request = json.load(sys.stdin)
`;

/**
 * What the job's row rules make of files: {path, bytes} → bad rows (line, reason), counts, the event seconds the good
 * rows spanned, totals per (user, bucket start) and per user (the sum of its buckets).
 */
const SUMMARIZE = `${IMPORT_JOB}
out = []
for f in request["files"]:
    with job.open_prefix(f["path"], f["bytes"]) as data:
        bad = [[n, v[1]] for n, v in job.judge_file(data) if v[0] == "bad"]
        buckets, counts = job.summarize_file(data, request["bucketSeconds"])
    totals = {}
    for (user, _), (count, cents) in buckets.items():
        totals[user] = job.add_pairs(totals.get(user, (0, 0)), (count, cents))
    span = [counts.pop(name) for name in job.SPAN_FIELDS]
    out.append({"bad": bad, "counts": counts, "span": span, "totals": [[u, t[0], t[1]] for u, t in totals.items()],
                "buckets": [[u, start, t[0], t[1]] for (u, start), t in buckets.items()]})
json.dump({"files": out, "pysparkImported": "pyspark" in sys.modules}, sys.stdout)
`;

/** A file's verdicts in one comparable shape: bad rows in order, counts by manifest name, totals sorted by user. */
interface Verdicts {
  bad: [number, string][];
  counts: Record<string, number>;
  totals: [string, number, number][];
}

/** With event time: the span of event seconds ([first, last], null without a good row) and sorted bucket totals. */
interface EventVerdicts extends Verdicts {
  span: [number | null, number | null];
  buckets: [string, number, number, number][];
}

const byId = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const byUser = (totals: [string, number, number][]): [string, number, number][] => [...totals].sort(([a], [b]) => byId(a, b));
const byUserBucket = (buckets: [string, number, number, number][]): [string, number, number, number][] =>
  [...buckets].sort((a, b) => byId(a[0], b[0]) || a[1] - b[1]);
const withoutEventTime = ({ bad, counts, totals }: Verdicts): Verdicts => ({ bad, counts, totals });

function summarizeWithJob(files: readonly { path: string; bytes: number }[], bucketSeconds = 3_600): EventVerdicts[] {
  const answer = JSON.parse(runPython(['-c', SUMMARIZE], { files, bucketSeconds })) as { files: EventVerdicts[]; pysparkImported: boolean };
  expect(answer.pysparkImported).toBe(false);
  return answer.files.map((f) => ({ ...f, totals: byUser(f.totals), buckets: byUserBucket(f.buckets) }));
}

/** lambdaflow's own verdicts: the core parser every layer uses. */
function summarizeWithOurs(bytes: Uint8Array, bucketSeconds = 3_600): EventVerdicts {
  const table = new UserAggTable();
  const parser = parseWhole(bytes, table, { bucketSeconds });
  const totals = table.toSortedTotals().map((t): [string, number, number] => [t.userId, t.count, t.cents]);
  const { rows, purchases, views, bad, minEventSecond, maxEventSecond } = parser.counts;
  return {
    bad: parser.badRows.map((row): [number, string] => [row.line, row.reason]),
    counts: { rowsRead: rows, purchases, views, purchaseCents: totals.reduce((n, t) => n + t[2], 0), ...bad },
    totals: byUser(totals),
    span: Number.isFinite(minEventSecond) ? [minEventSecond, maxEventSecond] : [null, null],
    buckets: byUserBucket(table.toSortedBucketTotals().map((t): [string, number, number, number] => [t.userId, t.bucket * bucketSeconds, t.count, t.cents])),
  };
}

/** What a corpus file's construction says it holds (test/fixtures/generate-hostile.ts), in the same shape. */
function summarizeSpec(spec: FileSpec): Verdicts {
  const e = expectFile(spec);
  return {
    bad: spec.lines.flatMap((line, i): [number, string][] => (line.is.kind === 'bad' ? [[i + 1, line.is.reason]] : [])),
    counts: { rowsRead: e.rows, purchases: e.purchases, views: e.views, purchaseCents: [...e.totals.values()].reduce((n, t) => n + t.cents, 0), ...e.bad },
    totals: byUser([...e.totals].map(([user, t]): [string, number, number] => [user, t.count, t.cents])),
  };
}

function writeTempFiles(files: readonly { name: string; bytes: Uint8Array }[]): { path: string; bytes: number }[] {
  const dir = newTempRoot().outside;
  return files.map((f, i) => {
    const file = path.join(dir, `${String(i).padStart(4, '0')}.csv`);
    fs.writeFileSync(file, f.bytes);
    return { path: file, bytes: f.bytes.length };
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Generated files: random rows from hostile pieces, with every line ending, BOMs, headers and overlong lines.

const USERS: readonly (string | number[])[] = [
  'u1',
  'u2',
  'ü-用户',
  '"u,3"',
  '"q""x"',
  '""',
  '',
  ' sp ',
  'a\tb',
  [0x62, 0xff],
  'b\x7f',
  '\u0085x',
  '"open',
  'st"ray',
  '"x"y',
  '😀',
];
const TYPES = ['purchase', 'purchase', 'view', 'Purchase', '', 'click', '"view"'];
const AMOUNTS = [
  '1.00',
  '-2.5',
  '+3',
  '007.10',
  '999999999.99',
  '-999999999.99',
  '1000000000.00',
  '12.345',
  '1e3',
  '.5',
  '5.',
  '',
  '"4.00"',
  '"1,000.00"',
  '-0',
  'NaN',
  '٣',
  ' 1',
];
const TIMES = [
  '1700000000',
  '1700003599',
  '1700003600.9',
  '86399',
  '86400.000',
  '0',
  '253402300799',
  '253402300799.000',
  '253402300799.5',
  '253402300800',
  '1.5',
  '1.',
  '-1',
  '',
  'x',
  '١٢',
  '"17"',
];
const EOLS = ['\n', '\r\n', '\r'];

function generatedLine(random: Random): Buffer {
  const roll = random.next();
  if (roll < 0.05) return Buffer.alloc(0);
  if (roll < 0.08) return Buffer.from('user_id,event_type,amount,unix_timestamp');
  if (roll < 0.09) return Buffer.from(`u-long,purchase,1.00,${'1'.repeat(64 * 1024 + random.between(-30, 30))}`);
  const user = random.pick(USERS);
  const fields = [
    typeof user === 'string' ? Buffer.from(user) : Buffer.from(user),
    ...[random.pick(TYPES), random.pick(AMOUNTS), random.pick(TIMES)].map((f) => Buffer.from(f)),
  ];
  if (random.chance(0.04)) fields.pop();
  if (random.chance(0.04)) fields.push(Buffer.from('extra'));
  return Buffer.concat(fields.flatMap((f, i) => (i === 0 ? [f] : [Buffer.from(','), f])));
}

function generatedFile(random: Random): Buffer {
  const parts: Buffer[] = [];
  if (random.chance(0.2)) parts.push(Buffer.from([0xef, 0xbb, 0xbf]));
  if (random.chance(0.3)) parts.push(Buffer.from('user_id,event_type,amount,unix_timestamp'), Buffer.from(random.pick(EOLS)));
  const lines = random.between(0, 40);
  for (let i = 0; i < lines; i++) parts.push(generatedLine(random), Buffer.from(i === lines - 1 && random.chance(0.3) ? '' : random.pick(EOLS)));
  return Buffer.concat(parts);
}

describe.skipIf(!HAS_PYTHON)('batch_job.py: the row rules (python3, no pyspark)', () => {
  it('is valid Python, and imports without pyspark', () => {
    runPython(['-c', `import sys; source = open(sys.argv[1], encoding="utf-8").read(); compile(source, sys.argv[1], "exec")`, JOB]);
    expect(summarizeWithJob([])).toEqual([]);
  });

  it('names the bad-row reasons as lambdaflow does', () => {
    const reasons = JSON.parse(runPython(['-c', `${IMPORT_JOB}\njson.dump(list(job.BAD_REASONS), sys.stdout)`])) as string[];
    expect(reasons).toEqual([...BAD_REASONS]);
  });

  it('gives the committed hostile fixtures (test/fixtures/hostile/*.csv) their expected verdicts', () => {
    const names = fs
      .readdirSync(FIXTURE_DIR)
      .filter((n) => n.endsWith('.csv'))
      .sort();
    expect(names.length).toBeGreaterThan(0);
    const files = names.map((n) => ({ path: path.join(FIXTURE_DIR, n), bytes: fs.statSync(path.join(FIXTURE_DIR, n)).size }));
    summarizeWithJob(files)
      .map(withoutEventTime)
      .forEach((job, i) => {
        const expected = JSON.parse(fs.readFileSync(path.join(FIXTURE_DIR, names[i]!.replace(/\.csv$/, '.expected.json')), 'utf8')) as {
          rowsRead: number;
          purchases: number;
          views: number;
          badRows: Record<string, number>;
          purchaseCentsTotal: number;
          totals: Record<string, [number, string]>;
          quarantine: string[];
        };
        const cents = (amount: string): number => Math.round(Number(amount) * 100);
        expect(job.bad, names[i]).toEqual(expected.quarantine.map((entry) => entry.split('\t', 2)).map(([line, reason]) => [Number(line), reason]));
        expect(job.counts, names[i]).toEqual({
          rowsRead: expected.rowsRead,
          purchases: expected.purchases,
          views: expected.views,
          purchaseCents: expected.purchaseCentsTotal,
          ...expected.badRows,
        });
        expect(job.totals, names[i]).toEqual(byUser(Object.entries(expected.totals).map(([user, [count, amount]]) => [user, count, cents(amount)])));
      });
  });

  it('gives every file of the hostile corpus the verdicts it was built with, line by line', () => {
    const specs = [...batchCorpusFiles(), ...streamFiles()];
    const files = writeTempFiles(specs.map((spec) => ({ name: spec.name, bytes: renderFile(spec) })));
    const job = summarizeWithJob(files).map(withoutEventTime);
    specs.forEach((spec, i) => expect(job[i], spec.name).toEqual(summarizeSpec(spec)));
  });

  it.each([60, 3_600, 86_400])(
    "agrees with lambdaflow's parser on 300 generated files (line endings, BOMs, headers, quoting, bytes, overlong lines), buckets of %i s too",
    (bucketSeconds) => {
      const random = seeded(20_240_611);
      const generated = Array.from({ length: 300 }, (_, i) => ({ name: `g${i}.csv`, bytes: generatedFile(random) }));
      const job = summarizeWithJob(writeTempFiles(generated), bucketSeconds);
      generated.forEach((file, i) =>
        expect(job[i], `${file.name}: ${JSON.stringify(file.bytes.toString('latin1').slice(0, 300))}`).toEqual(summarizeWithOurs(file.bytes, bucketSeconds)),
      );
      // The pieces reach every verdict, so agreement means something.
      const seen = new Set(job.flatMap((f) => f.bad.map(([, reason]) => reason)));
      expect([...seen].sort()).toEqual([...BAD_REASONS].sort());
      expect(job.reduce((n, f) => n + f.counts.purchases!, 0)).toBeGreaterThan(100);
    },
  );

  it("regression: an amount or timestamp of 5,000 digits is a bad row, not a crash (Python's int() refuses over 4,300 digits)", () => {
    const digits = '1'.repeat(5_000);
    const zeros = '0'.repeat(5_000);
    const bytes = Buffer.from(`a,purchase,${digits},1\nb,purchase,1.00,${digits}\nc,purchase,${zeros}1.00,${zeros}1\n`);
    const [job] = summarizeWithJob(writeTempFiles([{ name: 'digits.csv', bytes }]));
    expect(job).toEqual(summarizeWithOurs(bytes));
    expect(job!.bad).toEqual([
      [1, 'bad_amount'],
      [2, 'bad_timestamp'],
    ]);
  });

  it('reads a file only up to the given length, and refuses one shorter than that', () => {
    const [file] = writeTempFiles([{ name: 'grown.csv', bytes: Buffer.from('a,purchase,1.00,1\nb,purchase,2.00,1\nc,purchase,5.00,1') }]);
    const [prefix] = summarizeWithJob([{ path: file!.path, bytes: 18 }]);
    expect(prefix!.totals).toEqual([['a', 1, 100]]);
    expect(() => summarizeWithJob([{ path: file!.path, bytes: file!.bytes + 1 }])).toThrow(/fewer than the \d+ of the master dataset: it shrank/);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Against the real CLI: the master dataset of a data folder with batch input, compacted master files and logged
// stream files, one of which grew after it was logged.

interface MasterFiles {
  watermark: number;
  files: { path: string; bytes: number; source: string }[];
}

interface WriterCall {
  path: string;
  options: Record<string, unknown>;
}

/** Runs the job's driver on the stand-in for pyspark: what it printed, and each writer call it made. */
function runJob(data: string, ...extra: string[]): { printed: string; writes: WriterCall[] } {
  const log = path.join(newTempRoot().outside, 'writer.jsonl');
  const printed = runPython([JOB, data, '--lambdaflow', lambdaflowCommand(), ...extra], null, { PYTHONPATH: FAKE_PYSPARK, FAKE_SPARK_LOG: log });
  return {
    printed,
    writes: fs
      .readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as WriterCall),
  };
}

/** A view's buckets/ lines without their headers, sorted as text: the same set whatever the part and line order. */
const bucketLines = (view: BatchViewOnDisk): string[] =>
  [...view.bucketParts].flatMap(([name, text]) => (name.startsWith('part-') ? splitLines(text).filter((line) => line !== BUCKETS_HEADER) : [])).sort();

const lambdaflowCommand = (): string => [process.execPath, MAIN].map((word) => `'${word.replace(/'/g, `'\\''`)}'`).join(' ');

/** Rows whose user ids need quoting and keep their spaces, and bad rows, for the stream. */
const HOSTILE_STREAM =
  'user_id,event_type,amount,unix_timestamp\r\n"bob, jr.",purchase,2.50,1700000000\r\n"gr""ace",purchase,7.05,1700000000\r\n' +
  ' spaced user ,purchase,1.00,1700000000\r\nu1,purchase,1e3,1700000000\r\nbroken,purchase\r\n';

describe('batch_job.py reads what `batch` reads (master-files)', () => {
  let data: string;
  let ourView: string;
  let watermark: number;

  beforeAll(async () => {
    requireBuild();
    data = newTempRoot().data;
    const quiet = ['--data', data, '--log-level', 'warn'];
    const generate = (chunks: number, seed: number): Promise<unknown> =>
      runCliOk(['gen-stream', ...quiet, '--chunks', String(chunks), '--interval', '1ms', '--rows-per-chunk', '80', '--users', '200', '--seed', String(seed)]);
    await runCliOk(['gen-batch', ...quiet, '--rows', '3000', '--files', '3', '--users', '200', '--seed', '7']);
    fs.copyFileSync(path.join(FIXTURE_DIR, 'mixed.csv'), path.join(data, 'batch_input', 'hostile.csv'));
    await generate(4, 8);
    await runCliOk(['speed', '--once', ...quiet, '--threads', '1']);
    await runCliOk(['compact', ...quiet, '--min-age', '0', '--target-size', '2kB']);
    await generate(2, 9);
    dropStreamFile(data, 'zz-hostile.csv', HOSTILE_STREAM);
    await runCliOk(['speed', '--once', ...quiet, '--threads', '1']);
    await runCliOk(['batch', ...quiet, '--partitions', '4', '--threads', '2']);
    ourView = completeBatchViews(data).at(-1)!;
    watermark = readManifest(ourView).streamWatermark;
    // After the batch: a logged file grows (its new bytes are not in the master dataset) and one more file is logged,
    // so the log's last seq is past the batch's watermark.
    fs.appendFileSync(path.join(data, 'stream_input', 'zz-hostile.csv'), 'late,purchase,1000.00,1700000000\n');
    await generate(1, 10);
    await runCliOk(['speed', '--once', ...quiet, '--threads', '1']);
    await runCliOk(['merge', '--once', ...quiet]);
  });

  const masterFiles = async (...extra: string[]): Promise<MasterFiles> =>
    JSON.parse((await runCliOk(['master-files', '--data', data, ...extra])).stdout) as MasterFiles;

  it('master-files --watermark S lists exactly the inputs of the batch view with watermark S: names, sources, sizes', async () => {
    const listed = await masterFiles('--watermark', String(watermark));
    const manifest = readManifest(ourView);
    expect(listed.watermark).toBe(watermark);
    expect(listed.files.map((f) => ({ name: path.basename(f.path), source: f.source, size: f.bytes }))).toEqual(manifest.inputs);
    // The folder has all three kinds of input, and the grown file counts with its logged size only.
    expect(new Set(listed.files.map((f) => f.source))).toEqual(new Set(['batch_input', 'master', 'stream_input']));
    const grown = listed.files.find((f) => f.path.endsWith('zz-hostile.csv'))!;
    expect(grown.bytes).toBe(Buffer.byteLength(HOSTILE_STREAM));
    expect(fs.statSync(grown.path).size).toBeGreaterThan(grown.bytes);
    // Without --watermark the list runs to the log's last seq, which is past the batch's.
    expect((await masterFiles()).files.length).toBe(listed.files.length + 1);
  });

  it.skipIf(!HAS_PYTHON)('the job gets that list from the same command, with --watermark, and names the inputs as the manifest does', async () => {
    const source = fs.readFileSync(JOB, 'utf8');
    expect(source).toMatch(/"master-files"/);
    expect(source).toMatch(/"--watermark"/);
    const fromJob = JSON.parse(
      runPython(
        [
          '-c',
          `${IMPORT_JOB}\nlisted = job.master_files(request["command"], request["data"], request["watermark"])\njson.dump({"listed": listed, "inputs": job.manifest_inputs(listed["files"])}, sys.stdout)`,
        ],
        {
          command: lambdaflowCommand(),
          data,
          watermark,
        },
      ),
    ) as { listed: MasterFiles; inputs: unknown };
    expect(fromJob.listed).toEqual(await masterFiles('--watermark', String(watermark)));
    expect(fromJob.inputs).toEqual(readManifest(ourView).inputs);
  });

  it.skipIf(!HAS_PYTHON)('its row rules, over those files read up to their lengths, add up to the batch view and its manifest counts', async () => {
    const listed = await masterFiles('--watermark', String(watermark));
    const files = summarizeWithJob(listed.files);
    const totals = new Map<string, { count: number; cents: number }>();
    const counts: Record<string, number> = {};
    for (const file of files) {
      for (const [user, count, cents] of file.totals) {
        const t = totals.get(user) ?? { count: 0, cents: 0 };
        totals.set(user, { count: t.count + count, cents: t.cents + cents });
      }
      for (const [name, n] of Object.entries(file.counts)) counts[name] = (counts[name] ?? 0) + n;
    }
    expect(plain(totals)).toEqual(plain(readPartTotals(ourView)));
    expect(totals.has(' spaced user ')).toBe(true);
    expect(totals.has('late')).toBe(false);
    const manifest = readManifest(ourView);
    const { rowsRead, purchases, views, purchaseCents, ...bad } = counts;
    expect({ rowsRead, purchases, views, purchaseCents, bad }).toEqual({
      rowsRead: manifest.rowsRead,
      purchases: manifest.purchases,
      views: manifest.views,
      purchaseCents: manifest.purchaseCentsTotal,
      bad: manifest.badRows,
    });
  });

  it.skipIf(!HAS_PYTHON)('its driver, on a stand-in for pyspark, publishes a view that merge serves exactly as ours, buckets and all', async () => {
    // The same folder without our view: the job's view must take its place.
    const copy = newTempRoot().data;
    fs.cpSync(data, copy, { recursive: true });
    fs.rmSync(path.join(copy, 'serving', 'batch', path.basename(ourView)), { recursive: true });
    const { printed, writes } = runJob(copy, '--watermark', String(watermark), '--partitions', '3');
    expect(printed).toMatch(new RegExp(`^batch_job: \\d+ rows \\(\\d+ bad\\), \\d+ users, watermark ${watermark} → .*batch-\\d+\\n$`));

    // Written under a hidden name that `batch` does not take for a dead process's temp folder, the bucket totals in
    // its buckets/, with Spark's CSV options set as the README says.
    const [write, bucketsWrite] = writes;
    expect(path.basename(write!.path)).toMatch(/^\.spark-batch-\d+-[0-9a-f]{32}$/);
    expect(path.basename(write!.path)).not.toMatch(/^\..*\.tmp-(\d+)-\d+$/);
    expect(bucketsWrite!.path).toBe(`${write!.path}/buckets`);
    for (const { options } of writes)
      expect(options).toMatchObject({ header: true, quote: '"', escape: '"', ignoreLeadingWhiteSpace: false, ignoreTrailingWhiteSpace: false });

    const [sparkView] = completeBatchViews(copy);
    expect(batchLeftovers(copy)).toEqual([]);
    expect(fs.readdirSync(sparkView!).filter((n) => n.startsWith('part-'))).toHaveLength(3);
    expect(fs.readdirSync(path.join(sparkView!, 'buckets')).filter((n) => n.startsWith('part-'))).toHaveLength(3);
    // Hostile ids (quoted, spaced) in the buckets too: the same (user, bucket) lines as our view's, in another order.
    expect(bucketLines(readBatchView(sparkView!))).toEqual(bucketLines(readBatchView(ourView)));
    const ours = readManifest(ourView);
    const theirs = readManifest(sparkView!);
    const shared = (m: typeof ours): unknown => ({
      streamWatermark: m.streamWatermark,
      inputs: m.inputs,
      bucketSeconds: m.bucketSeconds,
      userBuckets: m.userBuckets,
      firstEventSecond: m.firstEventSecond,
      lastEventSecond: m.lastEventSecond,
      rowsRead: m.rowsRead,
      purchases: m.purchases,
      views: m.views,
      badRows: m.badRows,
      badRowsTotal: m.badRowsTotal,
      users: m.users,
      purchaseCentsTotal: m.purchaseCentsTotal,
    });
    expect(shared(theirs)).toEqual(shared(ours));
    expect(theirs.createdAtMs).toBe(Number(/batch-(\d+)$/.exec(sparkView!)![1]));

    await runCliOk(['merge', '--once', '--data', copy, '--log-level', 'warn']);
    expect(readMergedViewText(copy)).toBe(readMergedViewText(data));
  });
});

// ---------------------------------------------------------------------------------------------------------------
// The job's view alone (no `batch` run), on generated history over 30 days and stream files, against an independent
// recount per (user, bucket), and served by `serve` for range questions.

describe.skipIf(!HAS_PYTHON)('batch_job.py: the buckets/ layout, against a recount', () => {
  const quiet = (data: string): string[] => ['--data', data, '--log-level', 'warn'];
  const genStream = (data: string, seed: number): Promise<unknown> =>
    runCliOk([
      'gen-stream',
      ...quiet(data),
      '--chunks',
      '2',
      '--interval',
      '1ms',
      '--rows-per-chunk',
      '80',
      '--users',
      '50',
      '--seed',
      String(seed),
      '--out-of-order',
      '2h',
    ]);

  it('its buckets equal a recount per (user, bucket), and serve answers range questions on it as the recount does', async () => {
    requireBuild();
    const { data } = newTempRoot();
    await runCliOk(['gen-batch', ...quiet(data), '--rows', '2000', '--users', '50', '--seed', '3']);
    await genStream(data, 4);
    await runCliOk(['speed', '--once', ...quiet(data), '--threads', '1']);
    runJob(data, '--partitions', '2');
    const [view] = completeBatchViews(data);
    const manifest = readManifest(view!);
    const recount = recountDataFolder(data, { history: true, afterSeq: 0, throughSeq: manifest.streamWatermark });
    expect(manifest.streamWatermark).toBeGreaterThan(0);
    expect(bucketLines(readBatchView(view!))).toEqual(expectedBucketLines(recount.buckets).sort());
    await runCliOk(['merge', '--once', ...quiet(data)]);
    expect(readMergedViewText(data)).toBe(expectedMergedViewText(data));
    const seconds = [...recount.buckets.values()].flatMap((perUser) => [...perUser.keys()]);
    expect(manifest).toMatchObject({ bucketSeconds: 3_600, userBuckets: expectedBucketLines(recount.buckets).length });
    expect(Math.floor(manifest.firstEventSecond! / 3_600) * 3_600).toBeLessThanOrEqual(Math.min(...seconds));
    expect(manifest.lastEventSecond!).toBeGreaterThanOrEqual(Math.max(...seconds));

    // More stream past the view's watermark: serve adds its deltas to the Spark view's buckets.
    await genStream(data, 5);
    await runCliOk(['speed', '--once', ...quiet(data), '--threads', '1']);
    const serve = startCli(['serve', ...quiet(data), '--port', '0', '--interval', '100ms'], { timeoutMs: 55_000 });
    try {
      const url = await listeningUrl(serve);
      await waitUntilReady(url);
      const { version } = jsonOf<{ version: number }>(await httpRequest(`${url}/status`));
      await expectRangeAnswersEqualRecount(url, data, version, seeded(22));
    } finally {
      serve.child.kill('SIGTERM');
    }
    expect((await serve.result).code).toBe(0);
  });

  it("takes the folder's bucket size: records --bucket-seconds in a new folder (lambdaflow then keeps it), refuses another", async () => {
    requireBuild();
    const { data } = newTempRoot();
    await runCliOk(['gen-batch', ...quiet(data), '--rows', '600', '--users', '20', '--seed', '6']);
    expect(fs.existsSync(path.join(data, 'event-time.json'))).toBe(false);
    runJob(data, '--bucket-seconds', '900');
    expect(JSON.parse(fs.readFileSync(path.join(data, 'event-time.json'), 'utf8'))).toEqual({ bucketSeconds: 900 });
    const [view] = completeBatchViews(data);
    const recount = emptyRecount(900);
    for (const name of fs.readdirSync(path.join(data, 'batch_input')).sort())
      recountFile(fs.readFileSync(path.join(data, 'batch_input', name), 'utf8'), recount);
    expect(readManifest(view!).bucketSeconds).toBe(900);
    expect(bucketLines(readBatchView(view!))).toEqual(expectedBucketLines(recount.buckets).sort());

    expect(() => runJob(data, '--bucket-seconds', '3600')).toThrow(/keeps 900 s buckets, not 3600 s/);
    expect(() => runJob(data, '--bucket-seconds', '7')).toThrow(/--bucket-seconds must be a whole number of seconds of at least 60/);
    expect(completeBatchViews(data)).toEqual([view]);
    expect(batchLeftovers(data)).toEqual([]);
    const refused = await runCli(['batch', ...quiet(data), '--bucket', '1h']);
    expect(refused.stderr).toMatch(/keeps 15m buckets, not 1h/);
    fs.writeFileSync(path.join(data, 'event-time.json'), '{"bucketSeconds": 7}\n');
    expect(() => runJob(data)).toThrow(/does not hold a valid bucketSeconds/);
  });
});
