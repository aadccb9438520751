// Faults (issue 5) through the built CLI: an output folder that is read-only, full or not a folder; two speed layers
// on one data folder; worker threads that exit, throw or run out of heap; inputs deleted, truncated or swapped for a
// FIFO between planning and reading. Each must end in a clear one-line error or a correct result — never a hang —
// with the last published views intact and processing resuming once the fault is gone.
//
// Tests run as root here, where chmod does not stop writes: read-only and disk-full use a tiny tmpfs (mount works as
// root on this machine; those cases skip where it does not), and the chmod variant runs only for non-root users.

import { type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Expected, type FileSpec, buy, expectFile, liveTotals, renderFile, sumExpected } from '../fixtures/generate-hostile.js';
import { type Injection, type RunResult, describeRun, errorLines, removeScratch, runCli, startCli, stackLines } from '../helpers/cli.js';
import { fillDisk, isReallyReadOnly, isRoot, mkfifo, remount, tmpfsMounts, treeDigest, tryMountTmpfs, unmount } from '../helpers/file-system.js';
import { batchLeftovers, completeBatchViews, loggedStreamFiles, plain, readMergedView, readMergedViewText, readPartTotals } from '../helpers/outputs.js';
import { dropStreamFile, waitFor } from '../helpers/pipeline.js';
import { type TempRoot, tempRoots } from '../helpers/temp-dirs.js';

const DEADLINE_MS = 20_000;
const FAST = ['--batch-interval', '200ms', '--slide', '200ms', '--window', '1s', '--threads', '2', '--log-level', 'warn'];
// In this order, so that children are killed after each test, and the tmpfs mounts go before the roots holding them.
const newTempRoot = tempRoots('file');
const tryMountForFile = tmpfsMounts('file');
const children: ChildProcess[] = [];

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

afterAll(() => removeScratch());

/** Whether this machine lets the tests mount a tmpfs (root, mount allowed). */
let canMount = false;
beforeAll(() => {
  const probe = newTempRoot('lf-mount-probe-');
  canMount = tryMountTmpfs(path.join(probe.root, 'mnt'), 1 << 20);
  if (canMount) unmount(path.join(probe.root, 'mnt'));
});

function mountTmpfs(dir: string, sizeBytes: number): void {
  if (!tryMountForFile(dir, sizeBytes)) throw new Error(`cannot mount a tmpfs on ${dir}`);
}

const HISTORY: FileSpec = { name: 'history.csv', eol: '\n', lines: [buy('ann', '1.00', 100), buy('bob', '2.50', 250), buy('ann', '0.25', 25)] };

/** Enough users that several reduce tasks write part files at once. */
const MANY_USERS: FileSpec = { name: 'many-users.csv', eol: '\n', lines: Array.from({ length: 3000 }, (_, i) => buy(`user-${i}`, '1.00', 100)) };

function batch(data: string, options: { inject?: Injection; nodeFlags?: string[] } = {}): Promise<RunResult> {
  return runCli(['batch', '--data', data, '--threads', '2', '--log-level', 'warn'], { timeoutMs: DEADLINE_MS, ...options });
}

function merge(data: string): Promise<RunResult> {
  return runCli(['merge', '--once', '--data', data, '--log-level', 'warn'], { timeoutMs: DEADLINE_MS });
}

/** A data folder with one input, one published batch view and a merged view; returns their digests. */
async function publishedState(
  root: TempRoot,
  files: readonly FileSpec[] = [HISTORY],
): Promise<{ expected: Expected; view: string; viewDigest: Record<string, string>; merged: string }> {
  fs.mkdirSync(path.join(root.data, 'batch_input'), { recursive: true });
  for (const spec of files) fs.writeFileSync(path.join(root.data, 'batch_input', spec.name), renderFile(spec));
  const first = await batch(root.data);
  expect(first.code, describeRun(first)).toBe(0);
  const m = await merge(root.data);
  expect(m.code, describeRun(m)).toBe(0);
  const view = completeBatchViews(root.data).at(-1)!;
  const expected = sumExpected(files.map((f) => expectFile(f)));
  expect(plain(readPartTotals(view))).toEqual(plain(liveTotals(expected.totals)));
  return { expected, view, viewDigest: treeDigest(view), merged: readMergedViewText(root.data) };
}

/** A clear failure: in time, exit 1, exactly one `lambdaflow <cmd>: error [CODE]: …` line, no stack trace. */
function expectOneLineError(run: RunResult, codes: RegExp): string {
  expect(run.timedOut, describeRun(run)).toBe(false);
  expect(run.code, describeRun(run)).toBe(1);
  const errors = errorLines(run.stderr);
  expect(errors, run.stderr).toHaveLength(1);
  expect(errors[0]).toMatch(codes);
  expect(stackLines(run.stderr), run.stderr).toEqual([]);
  return errors[0]!;
}

/** After a failed run: the earlier view is untouched, nothing half-written is left, and the merged view still serves it. */
function expectPublishedIntact(data: string, state: { view: string; viewDigest: Record<string, string>; merged: string }): void {
  expect(fs.existsSync(state.view)).toBe(true);
  expect(treeDigest(state.view)).toEqual(state.viewDigest);
  expect(completeBatchViews(data)).toEqual([state.view]);
  expect(batchLeftovers(data)).toEqual([]);
  expect(readMergedViewText(data)).toBe(state.merged);
}

async function expectRecovers(data: string, expected: Expected): Promise<void> {
  const again = await batch(data);
  expect(again.code, describeRun(again)).toBe(0);
  expect(plain(readPartTotals(completeBatchViews(data).at(-1)!))).toEqual(plain(liveTotals(expected.totals)));
  const m = await merge(data);
  expect(m.code, describeRun(m)).toBe(0);
  expect(plain(readMergedView(data))).toEqual(plain(liveTotals(expected.totals)));
}

/** Runs `action` while <data>/serving/batch is a regular file (its directory set aside), then puts it back. */
async function whileServingBatchIsAFile(root: TempRoot, action: () => Promise<RunResult>): Promise<RunResult> {
  const servingBatch = path.join(root.data, 'serving', 'batch');
  const aside = path.join(root.data, 'serving', 'batch.aside');
  fs.renameSync(servingBatch, aside);
  fs.writeFileSync(servingBatch, 'not a directory\n');
  try {
    return await action();
  } finally {
    fs.rmSync(servingBatch);
    fs.renameSync(aside, servingBatch);
  }
}

// ---------------------------------------------------------------------------------------------------------------

describe('(a) the batch output folder cannot be written', () => {
  it('read-only (a tmpfs remounted ro): one-line E_WRITE, last views intact, succeeds again once writable', async (context) => {
    if (!canMount) return context.skip();
    const root = newTempRoot();
    const servingBatch = path.join(root.data, 'serving', 'batch');
    mountTmpfs(servingBatch, 4 << 20);
    const state = await publishedState(root);
    remount(servingBatch, 'ro');
    expect(isReallyReadOnly(servingBatch)).toBe(true);
    const run = await batch(root.data);
    const line = expectOneLineError(run, /\[E_WRITE\]/);
    expect(line).toContain(servingBatch);
    expectPublishedIntact(root.data, state);
    expect((await merge(root.data)).code).toBe(0); // merging from the read-only views still works
    expect(readMergedViewText(root.data)).toBe(state.merged);
    remount(servingBatch, 'rw');
    await expectRecovers(root.data, state.expected);
  });

  // Regression: on a full disk the real cause (ENOSPC) was replaced by ENOTEMPTY from removing the temp view while
  // other reduce tasks still wrote into it; the job now waits for every task before aborting.
  it('full (a 1 MiB tmpfs): one-line error naming ENOSPC, no half-written view left, succeeds again once space returns', async (context) => {
    if (!canMount) return context.skip();
    const root = newTempRoot();
    const servingBatch = path.join(root.data, 'serving', 'batch');
    mountTmpfs(servingBatch, 1 << 20);
    const state = await publishedState(root, [HISTORY, MANY_USERS]);
    const filler = fillDisk(servingBatch);
    for (let attempt = 1; attempt <= 3; attempt++) {
      const run = await batch(root.data);
      const line = expectOneLineError(run, /\[(E_WRITE|E_WORKER)\]/);
      expect(line).toMatch(/ENOSPC|no space/i);
      expect(
        batchLeftovers(root.data).filter((name) => name !== path.basename(filler)),
        `attempt ${attempt}`,
      ).toEqual([]);
    }
    fs.rmSync(filler);
    expectPublishedIntact(root.data, state);
    await expectRecovers(root.data, state.expected);
  });

  it.runIf(!isRoot())('read-only by chmod 0o555 (non-root only): one-line E_WRITE, last views intact, then recovers', async () => {
    const root = newTempRoot();
    const state = await publishedState(root);
    const servingBatch = path.join(root.data, 'serving', 'batch');
    fs.chmodSync(servingBatch, 0o555);
    try {
      expectOneLineError(await batch(root.data), /\[E_WRITE\]/);
      expectPublishedIntact(root.data, state);
    } finally {
      fs.chmodSync(servingBatch, 0o755);
    }
    await expectRecovers(root.data, state.expected);
  });

  // Regression: a serving/batch that is not a directory gave E_UNEXPECTED with a stack trace instead of one E_WRITE line.
  it('not a directory (serving/batch replaced by a file): one-line E_WRITE naming it, and recovers once restored', async () => {
    const root = newTempRoot();
    const state = await publishedState(root);
    const run = await whileServingBatchIsAFile(root, () => batch(root.data));
    const line = expectOneLineError(run, /\[E_WRITE\]/);
    expect(line).toContain(path.join(root.data, 'serving', 'batch'));
    expectPublishedIntact(root.data, state);
    await expectRecovers(root.data, state.expected);
  });

  // Regression: `merge --once` replaced a good merged_view.csv with a header-only view (exit 0) when serving/batch
  // could not be listed; an unlistable folder is now an error, not "no views".
  it('merge while serving/batch is unreadable keeps the last merged view (fails clearly instead)', async () => {
    const root = newTempRoot();
    const state = await publishedState(root);
    const run = await whileServingBatchIsAFile(root, () => merge(root.data));
    expect(readMergedViewText(root.data), describeRun(run)).toBe(state.merged);
    expectOneLineError(run, /\[E_(STATE|INPUT)\]/);
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('(b) two speed layers on one data folder', () => {
  it('the second refuses to start (E_LOCKED, exit 1); the first keeps running and releases the lock on SIGINT', async () => {
    const { data } = newTempRoot();
    fs.mkdirSync(path.join(data, 'stream_input'));
    fs.writeFileSync(path.join(data, 'stream_input', 'a.csv'), renderFile({ name: 'a.csv', eol: '\n', lines: [buy('s', '1.00', 100)] }));
    const first = startCli(['speed', '--data', data, ...FAST], { timeoutMs: 30_000 });
    children.push(first.child);
    const lock = path.join(data, 'ingest', 'speed.lock');
    await waitFor(() => fs.existsSync(lock) && loggedStreamFiles(data).length === 1, 15_000, 'the first speed layer to take the lock and ingest');
    const logBefore = fs.readFileSync(path.join(data, 'ingest', 'ingest.log'), 'utf8');

    const second = await runCli(['speed', '--data', data, ...FAST], { timeoutMs: 10_000 });
    const line = expectOneLineError(second, /\[E_LOCKED\]/);
    expect(line).toContain(String(first.child.pid));
    expect(first.child.exitCode).toBeNull();
    expect(fs.readFileSync(lock, 'utf8').trim().split(/\s+/)[0]).toBe(String(first.child.pid));
    expect(fs.readFileSync(path.join(data, 'ingest', 'ingest.log'), 'utf8')).toBe(logBefore);

    first.child.kill('SIGINT');
    const done = await first.result;
    expect(done.code, describeRun(done)).toBe(0);
    expect(fs.existsSync(lock)).toBe(false);
  });

  it('a lock left by a dead process is taken over', async () => {
    const { data } = newTempRoot();
    fs.mkdirSync(path.join(data, 'ingest'), { recursive: true });
    // A pid that is certainly not running: beyond the kernel's pid_max.
    fs.writeFileSync(path.join(data, 'ingest', 'speed.lock'), '4194305\n');
    const speed = startCli(['speed', '--data', data, ...FAST], { timeoutMs: 20_000 });
    children.push(speed.child);
    const holder = (): string | undefined => {
      try {
        return fs
          .readFileSync(path.join(data, 'ingest', 'speed.lock'), 'utf8')
          .trim()
          .split(/\s+/)[0];
      } catch {
        return undefined; // between removing the stale lock and writing its own
      }
    };
    await waitFor(() => holder() === String(speed.child.pid), 10_000, 'the lock to be taken over');
    speed.child.kill('SIGINT');
    expect((await speed.result).code).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('(c) workers that fail and inputs that change under the batch', () => {
  it.each(['worker-exit', 'worker-throw', 'worker-oom'] as const)(
    'a batch worker that hits %s: one-line error (E_INPUT for a failed input open, else E_WORKER), no hang, no half-written view, last view intact',
    async (inject) => {
      const root = newTempRoot();
      const state = await publishedState(root);
      const run = await batch(root.data, { inject, nodeFlags: inject === 'worker-oom' ? ['--max-old-space-size=128'] : [] });
      expectOneLineError(run, inject === 'worker-throw' ? /\[E_INPUT\].*injected read failure/ : /\[E_WORKER\]/);
      expectPublishedIntact(root.data, state);
      await expectRecovers(root.data, state.expected);
    },
  );

  it('speed workers that exit: the layer stops with one E_WORKER line (no hang), frees the lock, and a restart is exact', async () => {
    const { data } = newTempRoot();
    fs.mkdirSync(path.join(data, 'batch_input'));
    fs.mkdirSync(path.join(data, 'stream_input'));
    fs.writeFileSync(path.join(data, 'batch_input', HISTORY.name), renderFile(HISTORY));
    const chunk = (n: number): FileSpec => ({ name: `chunk-${n}.csv`, eol: '\n', lines: [buy(`s${n}`, '1.00', 100), buy('ann', '0.10', 10)] });
    fs.writeFileSync(path.join(data, 'stream_input', 'chunk-1.csv'), renderFile(chunk(1)));
    expect((await batch(data)).code).toBe(0);
    const crashed = await runCli(['speed', '--data', data, ...FAST], { timeoutMs: 15_000, inject: 'worker-exit-after-2000ms' });
    expectOneLineError(crashed, /\[E_WORKER\]/);
    expect(fs.existsSync(path.join(data, 'ingest', 'speed.lock'))).toBe(false);
    expect(loggedStreamFiles(data).map((e) => e.name)).toEqual(['chunk-1.csv']);

    dropStreamFile(data, 'chunk-2.csv', renderFile(chunk(2)));
    const restarted = startCli(['speed', '--data', data, ...FAST], { timeoutMs: 20_000 });
    children.push(restarted.child);
    await waitFor(() => loggedStreamFiles(data).length === 2, 10_000, 'the restarted layer to ingest the new file');
    await new Promise((r) => setTimeout(r, 500));
    restarted.child.kill('SIGINT');
    expect((await restarted.result).code).toBe(0);
    const m = await merge(data);
    expect(m.code, describeRun(m)).toBe(0);
    const expected = sumExpected([HISTORY, chunk(1), chunk(2)].map((f) => expectFile(f)));
    expect(plain(readMergedView(data))).toEqual(plain(liveTotals(expected.totals)));
  });

  /**
   * Runs `batch` and applies `act` to batch_input the moment the run creates its hidden temp view directory, i.e.
   * after it planned the byte ranges and before the workers (still starting) read them.
   */
  async function raceBatch(root: TempRoot, act: () => void, timeoutMs = DEADLINE_MS): Promise<{ run: RunResult; acted: boolean }> {
    const servingBatch = path.join(root.data, 'serving', 'batch');
    let acted = false;
    const watcher = fs.watch(servingBatch, (_event, name) => {
      if (acted || !String(name).includes('.tmp-')) return;
      acted = true;
      act();
    });
    try {
      const run = await runCli(['batch', '--data', root.data, '--threads', '2', '--log-level', 'warn'], { timeoutMs });
      return { run, acted };
    } finally {
      watcher.close();
    }
  }

  const small: FileSpec = { name: 'small.csv', eol: '\n', lines: Array.from({ length: 1000 }, () => buy('small', '0.01', 1)) };
  const big: FileSpec = { name: 'big.csv', eol: '\n', lines: Array.from({ length: 200_000 }, (_, i) => buy(`big${i % 100}`, '1.00', 100)) };

  /** Either a clear one-line error naming the file, or (the race lost) a complete, exact result. */
  function expectCleanOutcome(
    run: RunResult,
    data: string,
    file: string,
    state: { view: string; viewDigest: Record<string, string>; merged: string },
    all: Expected,
  ): void {
    expect(run.timedOut, describeRun(run)).toBe(false);
    if (run.code === 0) {
      expect(plain(readPartTotals(completeBatchViews(data).at(-1)!))).toEqual(plain(liveTotals(all.totals)));
      return;
    }
    const line = expectOneLineError(run, /\[(E_INPUT|E_WORKER|E_STATE)\]/);
    expect(line).toContain(file);
    expectPublishedIntact(data, state);
  }

  it('an input deleted between planning and reading: a clear error naming it (or an exact result), never a hang', async () => {
    const root = newTempRoot();
    const state = await publishedState(root, [HISTORY, small, big]);
    const file = path.join(root.data, 'batch_input', small.name);
    const { run, acted } = await raceBatch(root, () => fs.rmSync(file));
    expect(acted).toBe(true);
    expectCleanOutcome(run, root.data, file, state, state.expected);
    fs.writeFileSync(file, renderFile(small));
    await expectRecovers(root.data, state.expected);
  });

  it('an input truncated while being read: a clear error naming it (or an exact result), never a hang', async () => {
    const root = newTempRoot();
    const state = await publishedState(root, [HISTORY, small, big]);
    const file = path.join(root.data, 'batch_input', big.name);
    const { run, acted } = await raceBatch(root, () => fs.truncateSync(file, 0));
    expect(acted).toBe(true);
    expectCleanOutcome(run, root.data, file, state, state.expected);
    fs.writeFileSync(file, renderFile(big));
    await expectRecovers(root.data, state.expected);
  });

  // Regression: `batch` hung forever when an input became a FIFO between listing and opening; inputs are now opened
  // non-blocking and checked to be regular files.
  it('an input swapped for a FIFO between planning and reading: a clear error, never a hang', async () => {
    const root = newTempRoot();
    const state = await publishedState(root, [HISTORY, small, big]);
    const file = path.join(root.data, 'batch_input', small.name);
    const { run, acted } = await raceBatch(
      root,
      () => {
        fs.rmSync(file);
        mkfifo(file);
      },
      8_000,
    );
    expect(acted).toBe(true);
    fs.rmSync(file);
    fs.writeFileSync(file, renderFile(small));
    expectCleanOutcome(run, root.data, file, state, state.expected);
    await expectRecovers(root.data, state.expected);
  });
});
