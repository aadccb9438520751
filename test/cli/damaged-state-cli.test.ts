// Damaged realtime state through the real CLI (issue 24): a delta file or a checkpoint part cut so that its last
// line still parses used to be counted short by `merge --once` and `serve`, and "recovered" by `speed` with nothing
// logged. Now merge refuses it naming the file, serve is not ready on it, and `speed --once` rebuilds it from the
// logged files, after which the merged view and the API equal the independent recount (test/helpers/reference.ts).

import fs from 'node:fs';
import path from 'node:path';
import { type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { describeRun, errorLines, listeningUrl, requireBuild, runCli, startCli } from '../helpers/cli.js';
import { apiCents, apiUsers, httpRequest, jsonOf } from '../helpers/http-client.js';
import { completeRealtimeViews, loggedStreamFiles, plain, readMergedView, readMergedViewText, realtimeThroughSeq } from '../helpers/outputs.js';
import {
  chunkText,
  dropStreamFile,
  expectExactMerge,
  publishRealtimeHead,
  waitFor,
  waitForValue,
  waitUntilReady,
  writeBatchInputs,
} from '../helpers/pipeline.js';
import { expectedMergedViewText, recountMasterDataset } from '../helpers/reference.js';
import { tempRoots } from '../helpers/temp-dirs.js';

const FAST = ['--batch-interval', '200ms', '--slide', '200ms', '--window', '1s', '--threads', '2', '--log-level', 'warn'];
const STREAM_FILES = 8;
const newTempRoot = tempRoots();
const children: ChildProcess[] = [];

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

const deltasDir = (data: string): string => path.join(data, 'serving', 'realtime', 'deltas');

/**
 * A data folder whose realtime view lives in its deltas: a batch of the history, then a speed layer that ingested
 * STREAM_FILES files and was killed -9 before its next checkpoint (the one it wrote at start reaches seq 0).
 * Returns the delta file with the most lines.
 */
async function folderWithDeltas(): Promise<{ data: string; delta: string }> {
  requireBuild();
  const { data } = newTempRoot();
  writeBatchInputs(data, { 'history.csv': `user_id,event_type,amount,unix_timestamp\n${chunkText(1, 300, 400)}` });
  const batch = await runCli(['batch', '--data', data, '--threads', '1']);
  expect(batch.code, describeRun(batch)).toBe(0);
  for (let i = 0; i < STREAM_FILES; i++) dropStreamFile(data, `chunk-${i}.csv`, chunkText(100 + i, 150, 400));
  const speed = startCli(['speed', '--data', data, ...FAST]);
  children.push(speed.child);
  await waitFor(() => loggedStreamFiles(data).length === STREAM_FILES && realtimeThroughSeq(data) === STREAM_FILES, 20_000, 'every file in the realtime head');
  speed.child.kill('SIGKILL');
  await speed.result;
  const checkpointed = completeRealtimeViews(data).map(
    (dir) => (JSON.parse(fs.readFileSync(path.join(dir, '_REALTIME.json'), 'utf8')) as { throughSeq: number }).throughSeq,
  );
  expect(Math.max(...checkpointed), 'no checkpoint past the start (it came within 10 s)').toBe(0);
  const deltas = fs.readdirSync(deltasDir(data)).map((name) => path.join(deltasDir(data), name));
  const lines = (file: string): number => fs.readFileSync(file, 'utf8').split('\n').length;
  return { data, delta: deltas.sort((a, b) => lines(b) - lines(a))[0]! };
}

/** Cuts a delta file in the middle of a line's amount, so that what is left ends with a line that still parses. */
function cutSoItStillParses(file: string): number {
  const bytes = fs.readFileSync(file);
  const lineEnd = bytes.indexOf('\n', Math.floor(bytes.length / 3));
  expect(bytes.subarray(lineEnd - 3, lineEnd).toString()).toMatch(/^\.\d\d$/);
  fs.writeFileSync(file, bytes.subarray(0, lineEnd - 1));
  return bytes.subarray(lineEnd).toString().split('\n').length - 2;
}

describe('a realtime delta file cut so that it still parses', () => {
  it('merge --once refuses it naming the file and keeps the merged view; speed --once rebuilds it, then the merge is exact', async () => {
    const { data, delta } = await folderWithDeltas();
    await expectExactMerge(data);
    const goodView = readMergedViewText(data);
    const linesLost = cutSoItStillParses(delta);
    expect(linesLost).toBeGreaterThan(50);

    const merge = await runCli(['merge', '--once', '--data', data]);
    expect(merge.code, describeRun(merge)).toBe(1);
    expect(errorLines(merge.stderr)).toEqual([expect.stringContaining(`damaged delta file ${delta}: its last line is not a #trailer`)]);
    expect(readMergedViewText(data)).toBe(goodView);

    const speed = await runCli(['speed', '--once', '--data', data, ...FAST]);
    expect(speed.code, describeRun(speed)).toBe(0);
    const warnings = speed.stderr.split('\n').filter((line) => line.includes('damaged delta file'));
    expect(warnings).toEqual([expect.stringContaining(`${delta}: its last line is not a #trailer`)]);
    expect(errorLines(speed.stderr)).toEqual([]);
    await expectExactMerge(data);
    expect(plain(readMergedView(data))).toEqual(plain(recountMasterDataset(data)));
  });

  it('serve is not ready on it and says which file; once speed --once rewrites it, serve picks it up, exact', async () => {
    const { data, delta } = await folderWithDeltas();
    cutSoItStillParses(delta);
    const serve = startCli(['serve', '--data', data, '--port', '0', '--interval', '100ms', '--log-level', 'warn'], { timeoutMs: 55_000 });
    children.push(serve.child);
    const url = await listeningUrl(serve);
    await waitFor(() => serve.output().includes(`damaged delta file ${delta}`), 20_000, 'serve naming the damaged file');
    expect((await httpRequest(`${url}/readyz`)).status).toBe(503);
    expect((await httpRequest(`${url}/status`)).status).toBe(503);

    const speed = await runCli(['speed', '--once', '--data', data, ...FAST]);
    expect(speed.code, describeRun(speed)).toBe(0);
    await waitForValue(
      () => httpRequest(`${url}/readyz`).then((a) => a.status),
      (status) => status === 200,
      20_000,
      '/readyz 200 once speed rewrote the deltas',
    );
    const expected = apiUsers(recountMasterDataset(data));
    const status = jsonOf<{ users: number; purchase_count_total: number; purchase_amount_total: string; through_seq: number }>(
      await httpRequest(`${url}/status`),
    );
    expect(status.through_seq).toBe(STREAM_FILES);
    expect(status.users).toBe(expected.length);
    expect(status.purchase_count_total).toBe(expected.reduce((n, u) => n + u.purchase_count_total, 0));
    expect(apiCents(status.purchase_amount_total)).toBe(expected.reduce((n, u) => n + apiCents(u.purchase_amount_total), 0));
    expect((await httpRequest(`${url}/view.csv`)).text).toBe(expectedMergedViewText(data));
    serve.child.kill('SIGTERM');
    expect((await serve.result).code).toBe(0);
  });
});

describe('a realtime checkpoint part cut at a line boundary', () => {
  it('merge --once refuses it naming the checkpoint; speed --once removes it and rebuilds, then the merge is exact', async () => {
    const { data } = await folderWithDeltas();
    const once = await runCli(['speed', '--once', '--data', data, ...FAST]);
    expect(once.code, describeRun(once)).toBe(0);
    await expectExactMerge(data);
    const goodView = readMergedViewText(data);
    const newest = completeRealtimeViews(data).sort().at(-1)!;
    const part = path.join(newest, 'part-00001');
    const bytes = fs.readFileSync(part);
    fs.writeFileSync(part, bytes.subarray(0, bytes.indexOf('\n', bytes.length / 2) + 1));

    const merge = await runCli(['merge', '--once', '--data', data]);
    expect(merge.code, describeRun(merge)).toBe(1);
    expect(errorLines(merge.stderr)).toEqual([expect.stringMatching(`damaged realtime checkpoint ${newest}: part-00001: expected \\d+ lines, found \\d+`)]);
    expect(readMergedViewText(data)).toBe(goodView);

    const speed = await runCli(['speed', '--once', '--data', data, ...FAST]);
    expect(speed.code, describeRun(speed)).toBe(0);
    expect(speed.stderr.split('\n').filter((line) => line.includes('damaged'))).toEqual([expect.stringContaining(`damaged realtime checkpoint ${newest}`)]);
    await expectExactMerge(data);
  });
});

describe('a realtime head.json whose throughSeq changed (it still parses)', () => {
  it('merge --once refuses it naming the file; speed --once publishes a good head, then the merge is exact', async () => {
    const { data } = await folderWithDeltas();
    const head = path.join(data, 'serving', 'realtime', 'head.json');
    fs.writeFileSync(head, fs.readFileSync(head, 'utf8').replace(`"throughSeq":${STREAM_FILES}`, `"throughSeq":${STREAM_FILES - 1}`));

    const merge = await runCli(['merge', '--once', '--data', data]);
    expect(merge.code, describeRun(merge)).toBe(1);
    expect(errorLines(merge.stderr)).toEqual([expect.stringMatching(`damaged state file ${head}: expected CRC-32 [0-9a-f]{8}, found [0-9a-f]{8}`)]);
    expect(fs.existsSync(path.join(data, 'serving', 'view', 'merged_view.csv'))).toBe(false);

    const speed = await runCli(['speed', '--once', '--data', data, ...FAST]);
    expect(speed.code, describeRun(speed)).toBe(0);
    await expectExactMerge(data);
  });
});

/** The warning lines of a run's output that name `file`. */
const warningsNaming = (output: string, file: string): string[] => output.split('\n').filter((line) => line.includes(' warn ') && line.includes(file));

/** Waits until serve's output has gone on for `ms` (several polls). */
const severalPolls = (ms = 2_000): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('serve polling a damaged delta file past what it serves (issue 24)', () => {
  it('warns once per file until it changes, and keeps serving the last good version, exact', async () => {
    const { data } = await folderWithDeltas();
    const serve = startCli(['serve', '--data', data, '--port', '0', '--interval', '100ms', '--log-level', 'warn'], { timeoutMs: 55_000 });
    children.push(serve.child);
    const url = await listeningUrl(serve);
    await waitUntilReady(url);
    const goodView = (await httpRequest(`${url}/view.csv`)).text;
    expect(goodView).toBe(expectedMergedViewText(data));

    // A head that proves itself reaching seq 9, whose delta file does not (no trailer: cut).
    const delta = path.join(deltasDir(data), `delta-${'9'.padStart(12, '0')}-${'9'.padStart(12, '0')}.csv`);
    fs.writeFileSync(delta, 'seq,user_id,bucket_start,purchase_count,purchase_amount_total\n9,u1,1699999200,1,1.00\n');
    publishRealtimeHead(data, 0, STREAM_FILES + 1);
    await waitFor(() => warningsNaming(serve.output(), delta).length > 0, 20_000, 'serve naming the damaged delta');
    await severalPolls();
    expect(warningsNaming(serve.output(), delta)).toEqual([expect.stringContaining(`damaged delta file ${delta}: its last line is not a #trailer`)]);
    const status = jsonOf<{ through_seq: number }>(await httpRequest(`${url}/status`));
    expect(status.through_seq).toBe(STREAM_FILES);
    expect((await httpRequest(`${url}/view.csv`)).text).toBe(goodView);

    // Damaged again, differently: a new warning, once.
    fs.writeFileSync(delta, 'seq,user_id,bucket_start,purchase_count,purchase_amount_total\n9,u1,1699999200,1,1.0');
    await waitFor(() => warningsNaming(serve.output(), delta).length > 1, 20_000, 'serve naming the file again once it changed');
    await severalPolls();
    expect(warningsNaming(serve.output(), delta)).toHaveLength(2);
    expect((await httpRequest(`${url}/view.csv`)).text).toBe(goodView);
    serve.child.kill('SIGTERM');
    expect((await serve.result).code).toBe(0);
  });
});

describe('a realtime checkpoint whose _REALTIME.json is damaged (its throughSeq changed, still JSON)', () => {
  /** The folder with a newest checkpoint through every seq, its _REALTIME.json then changed to claim one seq less. */
  async function folderWithDamagedCheckpoint(): Promise<{ data: string; meta: string }> {
    const { data } = await folderWithDeltas();
    const once = await runCli(['speed', '--once', '--data', data, ...FAST]);
    expect(once.code, describeRun(once)).toBe(0);
    const meta = path.join(completeRealtimeViews(data).sort().at(-1)!, '_REALTIME.json');
    const text = fs.readFileSync(meta, 'utf8');
    expect(text).toContain(`"throughSeq":${STREAM_FILES}`);
    fs.writeFileSync(meta, text.replace(`"throughSeq":${STREAM_FILES}`, `"throughSeq":${STREAM_FILES - 1}`));
    return { data, meta };
  }

  it('merge --once refuses it with one error line naming the file, exit 1, and leaves the merged view alone', async () => {
    const { data, meta } = await folderWithDamagedCheckpoint();
    const merge = await runCli(['merge', '--once', '--data', data]);
    expect(merge.code, describeRun(merge)).toBe(1);
    expect(errorLines(merge.stderr)).toEqual([expect.stringMatching(`damaged state file ${meta}: expected CRC-32 [0-9a-f]{8}, found [0-9a-f]{8}`)]);
    expect(fs.existsSync(path.join(data, 'serving', 'view', 'merged_view.csv'))).toBe(false);
  });

  it('serve says so once, naming the file, and serves without it: /status and the view equal the recount', async () => {
    const { data, meta } = await folderWithDamagedCheckpoint();
    const serve = startCli(['serve', '--data', data, '--port', '0', '--interval', '100ms', '--log-level', 'warn'], { timeoutMs: 55_000 });
    children.push(serve.child);
    const url = await listeningUrl(serve);
    await waitUntilReady(url);
    await severalPolls();
    expect(warningsNaming(serve.output(), meta)).toEqual([expect.stringContaining(`damaged state file ${meta}: expected CRC-32`)]);
    const expected = apiUsers(recountMasterDataset(data));
    const status = jsonOf<{ users: number; purchase_count_total: number; through_seq: number }>(await httpRequest(`${url}/status`));
    expect(status.through_seq).toBe(STREAM_FILES);
    expect(status.users).toBe(expected.length);
    expect(status.purchase_count_total).toBe(expected.reduce((n, u) => n + u.purchase_count_total, 0));
    expect((await httpRequest(`${url}/view.csv`)).text).toBe(expectedMergedViewText(data));
    serve.child.kill('SIGTERM');
    expect((await serve.result).code).toBe(0);
  });
});

describe('a batch view whose part or manifest changed after it was written', () => {
  /** A data folder with one batch view of a few users, merged once (the merge to compare with). */
  async function batchViewFolder(): Promise<{ data: string; view: string; goodView: string }> {
    requireBuild();
    const { data } = newTempRoot();
    writeBatchInputs(data, { 'history.csv': `user_id,event_type,amount,unix_timestamp\n${chunkText(1, 300, 400)}` });
    const batch = await runCli(['batch', '--data', data, '--threads', '2']);
    expect(batch.code, describeRun(batch)).toBe(0);
    await expectExactMerge(data);
    const batchDir = path.join(data, 'serving', 'batch');
    return { data, view: path.join(batchDir, fs.readdirSync(batchDir)[0]!), goodView: readMergedViewText(data) };
  }

  it.each(['part-00000', 'buckets/part-00001'])(
    'a user id changed in %s (every total still adds up) is refused by merge --once and by verify',
    async (part) => {
      const { data, view, goodView } = await batchViewFolder();
      const file = path.join(view, part);
      const text = fs.readFileSync(file, 'utf8');
      const line = text.split('\n').find((l) => /^u\d/.test(l))!;
      fs.writeFileSync(file, text.replace(line, line.replace(/^u/, 'x')));

      const merge = await runCli(['merge', '--once', '--data', data]);
      expect(merge.code, describeRun(merge)).toBe(1);
      expect(errorLines(merge.stderr)).toEqual([expect.stringContaining(`damaged batch view ${view}: ${part}: expected CRC-32`)]);
      expect(readMergedViewText(data)).toBe(goodView);
      const verify = await runCli(['verify', '--data', data]);
      expect(verify.code, describeRun(verify)).toBe(1);
      expect(verify.stdout).toContain(`${part}: expected CRC-32`);

      const batch = await runCli(['batch', '--data', data, '--threads', '1']);
      expect(batch.code, describeRun(batch)).toBe(0);
      await expectExactMerge(data);
      expect(readMergedViewText(data)).toBe(goodView);
    },
  );

  it('a digit changed in its manifest (a watermark, not a total) makes the view unserved, said once, and verify names it', async () => {
    const { data, view } = await batchViewFolder();
    const manifest = path.join(view, '_MANIFEST.json');
    const text = fs.readFileSync(manifest, 'utf8');
    expect(text).toContain('"streamWatermark":0,');
    fs.writeFileSync(manifest, text.replace('"streamWatermark":0,', '"streamWatermark":7,'));

    const verify = await runCli(['verify', '--data', data]);
    expect(verify.code, describeRun(verify)).toBe(1);
    expect(verify.stdout).toMatch(/damaged\s+\S*_MANIFEST\.json\s+.*expected CRC-32/);
    const merge = await runCli(['merge', '--once', '--data', data]);
    expect(merge.stderr.split('\n').filter((l) => l.includes(`skipping batch view ${view}`))).toEqual([expect.stringContaining('expected CRC-32')]);
  });
});
