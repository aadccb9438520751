// Running the built CLI (`node dist/main.js …`) in tests: the one runner, for commands that end and for long-running
// ones, with a deadline, optional peak-memory measurement and worker-thread fault injection.
//
// A hang must fail a test, never stall the suite: every run has a deadline; past it the child gets SIGTERM, then
// SIGKILL 2 s later, and the result says whether SIGTERM alone was enough (so a report can tell "stuck" from "deaf").
// Peak memory and fault injection use a preload module (`node --import`), which also runs in every worker thread
// because workers inherit the process's execArgv: that is how a worker crash is injected without hooks in src/.

import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeTempDir, removeTempDir } from './temp-dirs.js';

export const MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));

/** Fails early with a clear message when the build is missing (npm test builds first). */
export function requireBuild(): void {
  if (!fs.existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npx tsc -p tsconfig.json\` (npm test builds first)`);
}

export interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** The deadline passed and the test had to stop the child. */
  readonly timedOut: boolean;
  /** After a timeout: whether SIGTERM alone stopped the child within 2 s. */
  readonly stoppedBySigterm: boolean;
  readonly elapsedMs: number;
  /** Peak resident set of the whole process (all threads), in KiB, when measured. */
  readonly maxRssKb: number | undefined;
}

/** Worker-thread faults the preload can inject (env LF_INJECT). */
export type Injection =
  | 'worker-exit' // a worker thread calls process.exit(7) when it opens a .csv input
  | 'worker-throw' // opening a .csv input throws inside a worker thread
  | 'worker-oom' // a worker thread allocates until it hits its heap limit
  | `worker-exit-after-${number}ms`; // every worker thread exits with code 3 after the delay (speed workers)

const PRELOAD_SOURCE = `
import fs from 'node:fs';
import { isMainThread } from 'node:worker_threads';
if (isMainThread && process.env.LF_RSS_OUT) {
  process.on('exit', () => fs.writeFileSync(process.env.LF_RSS_OUT, String(process.resourceUsage().maxRSS)));
}
const how = process.env.LF_INJECT;
if (!isMainThread && how) {
  const delayed = /^worker-exit-after-(\\d+)ms$/.exec(how);
  if (delayed) setTimeout(() => process.exit(3), Number(delayed[1]));
  const open = fs.openSync;
  fs.openSync = (file, ...rest) => {
    if (String(file).endsWith('.csv')) {
      if (how === 'worker-exit') process.exit(7);
      if (how === 'worker-throw') throw new Error('injected read failure');
      if (how === 'worker-oom') { const hoard = []; for (;;) hoard.push(new Array(1e6).fill(hoard.length)); }
    }
    return open(file, ...rest);
  };
}
`;

let preloadPath: string | undefined;
const scratchDirs: string[] = [];

/** A scratch folder for the preload and memory reports: never inside a test's temp root, so snapshots stay clean. */
function scratch(): string {
  const dir = makeTempDir('lf-scratch-');
  scratchDirs.push(dir);
  return dir;
}

function preload(): string {
  if (preloadPath === undefined) {
    preloadPath = path.join(scratch(), 'preload.mjs');
    fs.writeFileSync(preloadPath, PRELOAD_SOURCE);
  }
  return preloadPath;
}

/** Removes the scratch folders of runs with `measureRss` or `inject` (call it in afterAll of files that use them). */
export function removeScratch(): void {
  for (const dir of scratchDirs.splice(0)) removeTempDir(dir);
  preloadPath = undefined;
}

export interface RunOptions {
  /** Deadline (default 50 s, under vitest's 60 s test timeout): past it the run counts as a hang. */
  readonly timeoutMs?: number;
  readonly cwd?: string;
  /** e.g. `--max-old-space-size=256` */
  readonly nodeFlags?: readonly string[];
  readonly measureRss?: boolean;
  readonly inject?: Injection;
}

export interface RunningCli {
  readonly child: ChildProcess;
  /** stdout and stderr so far, interleaved as they arrived. */
  output(): string;
  /** Settles (never rejects) once the child is gone. */
  readonly result: Promise<RunResult>;
}

/** Starts `node [flags] dist/main.js ...args` with a deadline: for long-running commands the test signals itself. */
export function startCli(args: readonly string[], options: RunOptions = {}): RunningCli {
  const timeoutMs = options.timeoutMs ?? 50_000;
  const rssOut = options.measureRss ? path.join(scratch(), 'max-rss') : undefined;
  const usePreload = options.measureRss === true || options.inject !== undefined;
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.LF_INJECT;
  delete env.LF_RSS_OUT;
  if (rssOut) env.LF_RSS_OUT = rssOut;
  if (options.inject) env.LF_INJECT = options.inject;
  const nodeArgs = [...(options.nodeFlags ?? []), ...(usePreload ? ['--import', preload()] : []), MAIN, ...args];
  const started = Date.now();
  const child = spawn(process.execPath, nodeArgs, { cwd: options.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let output = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    output += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    output += d.toString();
  });
  const result = new Promise<RunResult>((resolve) => {
    let timedOut = false;
    let stoppedBySigterm = false;
    let killTimer: NodeJS.Timeout | undefined;
    const deadline = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), 2_000);
    }, timeoutMs);
    child.once('close', (code, signal) => {
      clearTimeout(deadline);
      if (killTimer) {
        clearTimeout(killTimer);
        stoppedBySigterm = signal !== 'SIGKILL';
      }
      let maxRssKb: number | undefined;
      if (rssOut && fs.existsSync(rssOut)) maxRssKb = Number(fs.readFileSync(rssOut, 'utf8'));
      resolve({ code, signal, stdout, stderr, timedOut, stoppedBySigterm, elapsedMs: Date.now() - started, maxRssKb });
    });
  });
  return { child, output: () => output, result };
}

/** Runs `node [flags] dist/main.js ...args` to its end (or its deadline); resolves (never rejects) once the child is gone. */
export function runCli(args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return startCli(args, options).result;
}

/** Runs the CLI and fails with its output when it does not exit 0 in time. */
export async function runCliOk(args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const run = await runCli(args, options);
  if (run.code !== 0 || run.timedOut) throw new Error(`lambdaflow ${args.join(' ')}: ${describeRun(run)}\nstdout: ${run.stdout}`);
  return run;
}

/** One line describing a run, for assertion messages. */
export function describeRun(run: RunResult): string {
  const how = run.timedOut
    ? `HUNG: still running after the deadline (${run.elapsedMs} ms); SIGTERM ${run.stoppedBySigterm ? 'stopped it' : 'was ignored, needed SIGKILL'}`
    : `exit ${run.code}${run.signal ? ` (${run.signal})` : ''} after ${run.elapsedMs} ms`;
  return `${how}; stderr: ${JSON.stringify(run.stderr.slice(0, 2000))}`;
}

/** The CLI's error lines (`lambdaflow <cmd>: error [CODE]: message`). */
export function errorLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => /^lambdaflow [\w-]+: error \[/.test(l));
}

/** Stack-trace lines, which a clear one-line error must not print. */
export function stackLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => /^\s+at .+[:(]/.test(l));
}

/**
 * The URL a running `serve` or `all` prints once its HTTP API listens (`serve: listening on URL`, `all: serving the
 * merged view at URL`); fails with the child's output if it exits or the deadline passes first.
 */
export async function listeningUrl(running: RunningCli, timeoutMs = 20_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const match = /^(?:serve: listening on|all: serving the merged view at) (http:\/\/\S+)/m.exec(running.output());
    if (match) return match[1]!;
    if (running.child.exitCode !== null || running.child.signalCode !== null)
      throw new Error(`the service exited before listening: ${describeRun(await running.result)}`);
    if (Date.now() > deadline) throw new Error(`no listening line after ${timeoutMs} ms; output so far: ${running.output().slice(0, 2000)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
