// Batch views written the way Spark writes CSV (test/fixtures/spark/, made by generate-spark.ts): `part-…-c000.csv`
// or `.csv.gz` parts with header lines, Hadoop `.crc` side files, `_SUCCESS` and our `_MANIFEST.json`. Read into a
// table, then served exactly by `merge --once` and `serve` through the real CLI.

import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserAggTable } from '../../../src/core/agg-table.js';
import { LambdaflowError } from '../../../src/core/errors.js';
import { mergeViewDirectory } from '../../../src/io/views/views.js';
import { SPARK_FIXTURES } from '../../fixtures/generate-spark.js';
import { type RunningCli, describeRun, requireBuild, runCli, startCli } from '../../helpers/cli.js';
import { treeDigest } from '../../helpers/file-system.js';
import { MERGED_HEADER, loggedStreamFiles, readMergedViewText, realtimeThroughSeq } from '../../helpers/outputs.js';
import { dropStreamFile, waitFor } from '../../helpers/pipeline.js';
import { tempRoots } from '../../helpers/temp-dirs.js';

const newTempRoot = tempRoots();
const newSharedRoot = tempRoots('file');

const fixture = (name: string): string => path.join(SPARK_FIXTURES, name);

/** A fixture view copied into a temp folder, where a test may add or damage files. */
function copyOfFixture(name: string): string {
  const dir = path.join(newTempRoot().root, name);
  fs.cpSync(fixture(name), dir, { recursive: true });
  return dir;
}

/** Where `merge` and `serve` look for batch views: <data>/serving/batch/batch-<ms>/. */
function installBatchView(dataDir: string, name: string, ms: number): string {
  const dir = path.join(dataDir, 'serving', 'batch', `batch-${ms}`);
  fs.cpSync(fixture(name), dir, { recursive: true });
  return dir;
}

function totalsOf(dir: string): [string, number, number][] {
  const table = new UserAggTable();
  mergeViewDirectory(dir, table);
  return table.toSortedTotals().map((t) => [t.userId, t.count, t.cents]);
}

function damageOf(dir: string): LambdaflowError {
  try {
    totalsOf(dir);
  } catch (error) {
    if (error instanceof LambdaflowError) return error;
    throw error;
  }
  throw new Error(`${dir} was read without an error`);
}

const partName = (dir: string, suffix: string): string => fs.readdirSync(dir).find((n) => n.startsWith('part-') && n.endsWith(suffix))!;

describe('reading a Spark batch view', () => {
  it.each([
    {
      name: 'with-headers',
      totals: [
        ['alice', 3, 1250],
        ['bob, jr.', 1, 700],
        ['carol', 2, 30],
        ['dave', 4, 10025],
        ['erin', 1, -250],
      ],
    },
    {
      name: 'gzip',
      totals: [
        ['frank', 2, 4000],
        ['grace', 1, 990],
        ['h,i', 5, 500],
      ],
    },
    {
      name: 'without-header',
      totals: [
        ['ivan', 1, 100],
        ['judy', 2, 250],
      ],
    },
  ])('adds every part of $name and nothing else', ({ name, totals }) => {
    expect(totalsOf(fixture(name))).toEqual(totals);
  });

  it('reads parts of any sizes one after another (longer, shorter, empty, longest) and adds each line once', () => {
    const dir = path.join(newTempRoot().root, 'sizes');
    fs.mkdirSync(dir);
    const expected = new Map<string, [number, number]>();
    const part = (name: string, users: number, prefix: string): void => {
      let text = '';
      for (let i = 0; i < users; i++) {
        const id = `${prefix}${i}`;
        text += `${id},${i + 1},${i}.${String(i % 100).padStart(2, '0')}\n`;
        expected.set(id, [i + 1, i * 100 + (i % 100)]);
      }
      fs.writeFileSync(path.join(dir, name), text);
    };
    part('part-00000', 3_000, 'a');
    part('part-00001', 10, 'b');
    part('part-00002', 0, 'c');
    part('part-00003', 20_000, 'd');
    fs.writeFileSync(path.join(dir, '_SUCCESS'), '');
    const recount = [...expected].map(([id, [count, cents]]) => [id, count, cents]).sort((x, y) => (x[0]! < y[0]! ? -1 : 1));
    expect(totalsOf(dir)).toEqual(recount);
  });

  it('never reads .crc side files, _ or . names, or any other file (each here holds lines that would count)', () => {
    const dir = copyOfFixture('with-headers');
    const counted = 'mallory,9,999.99\n';
    for (const name of ['.part-00000-7f3c9a52-1d2e-4b8a-9c61-0e5f4d3a2b19-c000.csv.crc', '._SUCCESS.crc', '_SUCCESS', '_committed_123', '.hidden.csv']) {
      fs.writeFileSync(path.join(dir, name), counted);
    }
    for (const name of [
      'part-00002-7f3c9a52-1d2e-4b8a-9c61-0e5f4d3a2b19-c000.csv.crc',
      'part-00003.json',
      'part-00004.csv.bz2',
      'notes.txt',
      'user_totals.csv',
    ]) {
      fs.writeFileSync(path.join(dir, name), counted);
    }
    fs.mkdirSync(path.join(dir, '_temporary', '0'), { recursive: true });
    fs.writeFileSync(path.join(dir, '_temporary', '0', 'part-00005-c000.csv'), counted);
    expect(totalsOf(dir)).toEqual(totalsOf(fixture('with-headers')));
  });

  it('a header line after the first line of a part is a damaged line, named with its file and line', () => {
    const dir = copyOfFixture('with-headers');
    const part = path.join(dir, partName(dir, '.csv'));
    fs.appendFileSync(part, 'user_id,purchase_count,purchase_amount_total\n');
    const error = damageOf(dir);
    expect(error.code).toBe('E_STATE');
    expect(error.message).toBe(`damaged view file ${part} at line 5`);
  });

  it.each([
    { name: 'cut short', damage: (bytes: Buffer) => bytes.subarray(0, bytes.length - 6) },
    { name: 'a flipped byte', damage: (bytes: Buffer) => Buffer.concat([bytes.subarray(0, 20), Buffer.from([bytes[20]! ^ 0xff]), bytes.subarray(21)]) },
    { name: 'not gzip at all', damage: () => Buffer.from('frank,2,40.00\n') },
    { name: 'empty', damage: () => Buffer.alloc(0) },
  ])('a .csv.gz part that does not gunzip ($name) is an E_STATE error naming the file', ({ damage }) => {
    const dir = copyOfFixture('gzip');
    const part = path.join(dir, partName(dir, '.csv.gz'));
    fs.writeFileSync(part, damage(fs.readFileSync(part)));
    const error = damageOf(dir);
    expect(error.code).toBe('E_STATE');
    expect(error.context.file).toBe(part);
    expect(error.message.startsWith(`damaged view file ${part}: not a complete gzip stream (`)).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Through the real CLI.

const SPEED_FLAGS = ['--batch-interval', '200ms', '--slide', '200ms', '--window', '1s', '--threads', '1', '--log-level', 'warn'];

/**
 * Three stream files; the Spark view (`with-headers`, streamWatermark 2) absorbed seqs 1 and 2, so only seq 3 is
 * added to it. Its parts: alice 3 / 12.5, "bob, jr." 1 / 7, carol 2 / 0.30, dave 4 / 100.25, erin 1 / -2.5.
 */
const STREAM_FILES: readonly [string, string][] = [
  ['chunk-001.csv', 'alice,purchase,1.00,1700000000\nalice,view,0.00,1700000001\n'],
  ['chunk-002.csv', 'dave,purchase,5.00,1700000002\nzoe,purchase,3.25,1700000003\n'],
  ['chunk-003.csv', 'alice,purchase,2.50,1700000004\n"bob, jr.",purchase,0.50,1700000005\nnova,purchase,1.00,1700000006\ncarol,view,0.00,1700000007\n'],
];

/** The batch view plus seq 3 (alice +1 / 2.50, "bob, jr." +1 / 0.50, nova 1 / 1.00), worked out by hand. */
const EXPECTED_WITH_STREAM = `${MERGED_HEADER}
alice,4,15.00
"bob, jr.",2,7.50
carol,2,0.30
dave,4,100.25
erin,1,-2.50
nova,1,1.00
`;

/** Polls /readyz until the service has loaded a consistent view. */
async function waitUntilReady(serve: RunningCli, url: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (
      (await fetch(`${url}/readyz`).then(
        (r) => r.status,
        () => 0,
      )) === 200
    )
      return;
    if (serve.child.exitCode !== null || Date.now() > deadline) throw new Error(`serve did not become ready: ${serve.output()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('Spark batch views through the real CLI', () => {
  let data: string;
  let batchView: string;
  const serving: RunningCli[] = [];

  beforeAll(async () => {
    requireBuild();
    data = newSharedRoot().data;
    for (const [name, content] of STREAM_FILES) dropStreamFile(data, name, content);
    // The speed layer ingests the files and publishes its realtime view and per-seq deltas before any batch view
    // exists (realtime watermark 0): a merge must then subtract the deltas the Spark view absorbed.
    const speed = startCli(['speed', '--data', data, ...SPEED_FLAGS]);
    try {
      await waitFor(() => loggedStreamFiles(data).length === 3 && realtimeThroughSeq(data) === 3, 20_000, 'three stream files ingested and published');
    } finally {
      speed.child.kill('SIGTERM');
    }
    const stopped = await speed.result;
    if (stopped.code !== 0) throw new Error(`speed: ${describeRun(stopped)}`);
    expect(loggedStreamFiles(data).map((entry) => [entry.seq, entry.name])).toEqual(STREAM_FILES.map(([name], i) => [i + 1, name]));
    batchView = installBatchView(data, 'with-headers', 1_700_000_000_000);
  });

  afterAll(() => {
    for (const { child } of serving.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  });

  it('merge --once serves the Spark view plus exactly the stream files it did not absorb, and leaves the view as it was', async () => {
    const before = treeDigest(batchView);
    const merge = await runCli(['merge', '--once', '--data', data]);
    expect(merge.code, describeRun(merge)).toBe(0);
    expect(merge.stderr).toBe('');
    expect(merge.stdout).toContain('(batch watermark 2, through ingest seq 3)');
    expect(readMergedViewText(data)).toBe(EXPECTED_WITH_STREAM);
    expect(treeDigest(batchView)).toEqual(before);
  });

  it('serve answers /view.csv and /users/:id from the Spark view', async () => {
    const serve = startCli(['serve', '--data', data, '--port', '0', '--log-level', 'warn']);
    serving.push(serve);
    let url = '';
    await waitFor(
      () => {
        url = /listening on (http:\/\/\S+)/.exec(serve.output())?.[1] ?? '';
        return url !== '' || serve.child.exitCode !== null;
      },
      20_000,
      'serve to print its URL',
    );
    expect(url, serve.output()).not.toBe('');
    await waitUntilReady(serve, url);

    const view = await fetch(`${url}/view.csv`);
    expect(view.status).toBe(200);
    expect(await view.text()).toBe(EXPECTED_WITH_STREAM);
    const alice = await fetch(`${url}/users/alice`);
    expect(alice.status).toBe(200);
    expect(await alice.json()).toMatchObject({ user_id: 'alice', purchase_count_total: 4, purchase_amount_total: '15.00' });
    const bob = await fetch(`${url}/users/${encodeURIComponent('bob, jr.')}`);
    expect(await bob.json()).toMatchObject({ user_id: 'bob, jr.', purchase_count_total: 2, purchase_amount_total: '7.50' });
    const erin = await fetch(`${url}/users/erin`);
    expect(await erin.json()).toMatchObject({ user_id: 'erin', purchase_count_total: 1, purchase_amount_total: '-2.50' });
    // zoe bought only in seq 2, which the speed layer counted and the Spark view absorbed: counted once, so absent.
    expect((await fetch(`${url}/users/zoe`)).status).toBe(404);

    serve.child.kill('SIGTERM');
    const stopped = await serve.result;
    expect(stopped.code, describeRun(stopped)).toBe(0);
  });

  it('merge --once serves a gzip Spark view, skipping a newer view without _MANIFEST.json with a warning naming it', async () => {
    const { data: dir } = newTempRoot();
    installBatchView(dir, 'gzip', 1_000);
    const unmanifested = installBatchView(dir, 'without-manifest', 2_000);
    const merge = await runCli(['merge', '--once', '--data', dir]);
    expect(merge.code, describeRun(merge)).toBe(0);
    expect(merge.stderr).toContain(`skipping batch view ${unmanifested}: it has no _MANIFEST.json`);
    expect(readMergedViewText(dir)).toBe(`${MERGED_HEADER}\nfrank,2,40.00\ngrace,1,9.90\n"h,i",5,5.00\n`);
  });
});
