// A newcomer's first hour (issue 25) through the real CLI on temp folders: a mistyped data folder is an error, not an
// empty success; an empty master dataset and a service without a batch view say so; --version works; a refused
// command line is the documented one-line E_OPTIONS error; --help says how each command takes --data; and the long
// commands show their progress on a terminal (a pseudo-terminal from script(1)) and print nothing extra off one; the
// status line's lag is a file's time from landing to counted, the micro-batch interval beside it.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MAIN, type RunningCli, describeRun, listeningUrl, requireBuild, runCli, runCliOk, stackLines, startCli } from '../helpers/cli.js';
import { httpRequest, jsonOf } from '../helpers/http-client.js';
import { dropStreamFile, waitUntilReady } from '../helpers/pipeline.js';
import { tempRoots } from '../helpers/temp-dirs.js';

const newTempRoot = tempRoots();
const running: RunningCli[] = [];

beforeAll(() => requireBuild());
afterEach(() => {
  for (const cli of running.splice(0)) if (cli.child.exitCode === null) cli.child.kill('SIGKILL');
});

const PACKAGE_VERSION = (JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** Commands that need an existing data folder, each with arguments that end quickly. */
const NEEDS_EXISTING_FOLDER: readonly (readonly string[])[] = [
  ['batch'],
  ['speed', '--once'],
  ['gen-stream', '--chunks', '1', '--interval', '10ms'],
  ['merge', '--once'],
  ['compact'],
  ['master-files'],
  ['replay-quarantine'],
  ['serve', '--port', '0'],
];

describe('a data folder that does not exist', () => {
  it.each(NEEDS_EXISTING_FOLDER.map((args) => [args.join(' '), args] as const))('`%s` refuses it, naming it, and creates nothing', async (_name, args) => {
    const { root } = newTempRoot();
    const missing = path.join(root, 'nope');
    const run = await runCli([...args, '--data', missing]);
    expect(run.code, describeRun(run)).toBe(2);
    expect(run.stderr.trim()).toBe(
      `lambdaflow ${args[0]}: error [E_OPTIONS]: --data: there is no data folder ${missing}; to start one there, add --create (gen-batch and all also create it)`,
    );
    expect(run.stdout).toBe('');
    expect(fs.existsSync(missing)).toBe(false);
  });

  it('given as a relative path is named as given and as the absolute path it stands for', async () => {
    const { root } = newTempRoot();
    const run = await runCli(['batch', '--data', './nope'], { cwd: root });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`--data: there is no data folder ./nope (${path.join(root, 'nope')}); to start one there, add --create`);
    expect(fs.existsSync(path.join(root, 'nope'))).toBe(false);
  });

  it('is created by --create: batch then publishes an empty view and warns that the master dataset is empty', async () => {
    const { root } = newTempRoot();
    const data = path.join(root, 'new');
    const run = await runCliOk(['batch', '--data', data, '--create']);
    expect(run.stdout).toMatch(/^batch: 0 rows .* → 0 users /);
    expect(run.stderr).toMatch(
      / warn {2}batch: the master dataset is empty \(no \.csv files in .*batch_input, no ingested stream files\): the view has no users \(gen-batch writes sample history\)\n$/,
    );
    expect(fs.readdirSync(path.join(data, 'serving', 'batch')).filter((name) => name.startsWith('batch-'))).toHaveLength(1);
  });

  it('is created by gen-batch, as before', async () => {
    const { root } = newTempRoot();
    const data = path.join(root, 'history');
    await runCliOk(['gen-batch', '--data', data, '--rows', '100', '--files', '1']);
    expect(fs.readdirSync(path.join(data, 'batch_input'))).toEqual(['events-00000.csv']);
  });

  it('does not matter to gen-stream publishing to NATS, which writes nothing there', async () => {
    const { root } = newTempRoot();
    const missing = path.join(root, 'nope');
    // Port 1 on the loopback: nothing listens, so the run fails on the connection, not on the folder.
    const run = await runCli(['gen-stream', '--data', missing, '--sink', 'nats://127.0.0.1:1', '--chunks', '1']);
    expect(run.stderr).toMatch(/^lambdaflow gen-stream: error \[E_NETWORK\]/m);
    expect(fs.existsSync(missing)).toBe(false);
  });

  it('is refused when --data names a file', async () => {
    const { root } = newTempRoot();
    const file = path.join(root, 'a-file');
    fs.writeFileSync(file, 'not a folder\n');
    const run = await runCli(['batch', '--data', file]);
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toBe(`lambdaflow batch: error [E_OPTIONS]: --data: ${file} is not a folder`);
  });
});

describe('serve on a data folder without a batch view', () => {
  it('says "no batch view yet" on the console and in /status, and is ready (its totals are the speed layer\'s)', async () => {
    const { data } = newTempRoot();
    const serve = startCli(['serve', '--data', data, '--port', '0']);
    running.push(serve);
    const url = await listeningUrl(serve);
    // Ready once the first view is loaded: an empty folder's is consistent, so it is, without a batch view.
    await waitUntilReady(url);
    const status = jsonOf(await httpRequest(`${url}/status`));
    expect(status).toMatchObject({ batch_view: null, users: 0, notice: 'no batch view yet' });
    expect(serve.output()).toMatch(/ warn {2}serving: no batch view yet in \S+: serving the speed layer's totals alone until a batch job publishes one\n/);
  });
});

describe('small conventions', () => {
  it('--version prints the package version', async () => {
    const run = await runCliOk(['--version']);
    expect(run.stdout).toBe(`${PACKAGE_VERSION}\n`);
    expect(run.stderr).toBe('');
  });

  it.each([
    [['batch', '--frobnicate'], "lambdaflow batch: error [E_OPTIONS]: unknown option '--frobnicate' (lambdaflow batch --help lists its options)"],
    [['batch', '--dat', 'x'], "lambdaflow batch: error [E_OPTIONS]: unknown option '--dat'; did you mean --data? (lambdaflow batch --help lists its options)"],
    [['batch', '--data'], "lambdaflow batch: error [E_OPTIONS]: option '--data <dir>' argument missing (lambdaflow batch --help lists its options)"],
    [['bacth'], "lambdaflow: error [E_OPTIONS]: unknown command 'bacth'; did you mean batch? (lambdaflow --help lists the commands)"],
    [['--frobnicate'], "lambdaflow: error [E_OPTIONS]: unknown option '--frobnicate' (lambdaflow --help lists the commands)"],
  ])('a refused command line (%j) is one E_OPTIONS line pointing to --help, exit code 2', async (args, line) => {
    const run = await runCli(args);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(`${line}\n`);
    expect(stackLines(run.stderr)).toEqual([]);
  });

  it('--help says how each command takes --data: bench and soak use a temp folder without it', async () => {
    const help = async (command: string): Promise<string> => (await runCliOk([command, '--help'])).stdout.replace(/\s+/g, ' ');
    for (const command of ['batch', 'speed', 'gen-stream', 'merge', 'serve', 'compact', 'master-files', 'replay-quarantine']) {
      const text = await help(command);
      expect(text, command).toContain('--data <dir> data folder, which must exist (--create starts a new one) (default: ./data)');
      expect(text, command).toContain('--create start a new, empty data folder at --data when there is none');
    }
    for (const command of ['gen-batch', 'all']) {
      const text = await help(command);
      expect(text, command).toContain('--data <dir> data folder, created when missing (default: ./data)');
      expect(text, command).not.toContain('--create');
    }
    expect(await help('bench')).toContain('(default: a generated dataset cached in the system temp folder)');
    expect(await help('bench')).not.toContain('./data');
    expect(await help('soak')).toContain('--data <dir> data folder, created when missing (default: a new folder in the system temp folder)');
  });
});

describe('off a TTY', () => {
  it('gen-batch, batch and compact print their result lines only: no progress line, no terminal codes', async () => {
    const { data } = newTempRoot();
    const runs = [
      await runCliOk(['gen-batch', '--data', data, '--rows', '200000', '--files', '2']),
      await runCliOk(['batch', '--data', data]),
      await runCliOk(['compact', '--data', data]),
    ];
    for (const run of runs) {
      expect(run.stderr).toBe('');
      expect(run.stdout).not.toMatch(/[\r\u001b]/);
      expect(run.stdout.split('\n').filter(Boolean)).toHaveLength(1);
    }
  });
});

/** What a person at a terminal sees of a run: stdout and stderr both on a pseudo-terminal (script(1), util-linux). */
function runOnTerminal(args: readonly string[]): string {
  const quoted = [process.execPath, MAIN, ...args].map((arg) => `'${arg.replace(/'/g, "'\\''")}'`).join(' ');
  const run = spawnSync('script', ['-qec', quoted, '/dev/null'], { encoding: 'utf8', timeout: 50_000 });
  if (run.status !== 0) throw new Error(`lambdaflow ${args.join(' ')} on a terminal: exit ${run.status}: ${run.stdout}${run.stderr}`);
  return run.stdout;
}

/** The progress lines drawn (each after a carriage return and erase-line), without the terminal codes. */
function progressLines(screen: string, label: string): string[] {
  return screen
    .split('\r\x1b[K')
    .filter((drawn) => drawn.startsWith(`${label}: `) && !drawn.includes('\n'))
    .map((drawn) => drawn.replace(/\r$/, ''));
}

describe('on a TTY', () => {
  it('gen-batch, batch and compact draw rows or bytes done of all, and clear the line before their result line', () => {
    const { data } = newTempRoot();
    const generated = runOnTerminal(['gen-batch', '--data', data, '--rows', '300000', '--files', '2']);
    expect(progressLines(generated, 'gen-batch').at(-1)).toMatch(/^gen-batch: 300,000 of 300,000 rows \(100%\)/);
    expect(generated).toMatch(/\r\x1b\[Kgen-batch: 300,000 rows \(/);

    const batch = runOnTerminal(['batch', '--data', data]);
    expect(progressLines(batch, 'batch').at(-1)).toMatch(/^batch: (\d+\.\d MB) of \1 \(100%\)/);
    expect(batch).toMatch(/\r\x1b\[Kbatch: 300,000 rows \(/);

    runOnTerminal(['gen-stream', '--data', data, '--chunks', '3', '--interval', '10ms', '--rows-per-chunk', '1000']);
    runOnTerminal(['speed', '--once', '--data', data, '--log-level', 'warn']);
    const compact = runOnTerminal(['compact', '--data', data, '--min-age', '0s']);
    expect(progressLines(compact, 'compact')[0]).toMatch(/^compact: 0 B of \d+\.\d kB \(0%\)/);
    expect(progressLines(compact, 'compact').at(-1)).toMatch(/^compact: (\d+\.\d kB) of \1 \(100%\)/);
    expect(compact).toMatch(/\r\x1b\[Kcompact: 3 stream files /);
  });

  it('bench counts its process runs; soak its time', () => {
    const { root } = newTempRoot();
    const bench = runOnTerminal(['bench', '--data', path.join(root, 'bench'), '--rows', '2000', '--users', '100', '--threads', '1', '--repeat', '1']);
    expect(progressLines(bench, 'bench')[0]).toMatch(/^bench: 0 of (\d+) runs \(0%\)$/);
    expect(progressLines(bench, 'bench').at(-1)).toMatch(/^bench: (\d+) of \1 runs \(100%\)$/);
    const soak = runOnTerminal(['soak', '--data', path.join(root, 'soak'), '--duration', '2s', '--rate', '1000', '--threads', '1']);
    expect(progressLines(soak, 'soak').at(-1)).toMatch(/^soak: \ds of 2s \(\d+%\)/);
    expect(soak).toMatch(/\r\x1b\[Ksoak report: /);
  });
});

describe('the status line', () => {
  it('lag is from a file landing in stream_input/ to its rows counted, with the micro-batch interval beside it', async () => {
    const { data } = newTempRoot();
    dropStreamFile(data, 'chunk-a.csv', 'user_id,event_type,amount,unix_timestamp\nalice,purchase,1.00,1700000000\n');
    const file = path.join(data, 'stream_input', 'chunk-a.csv');
    // Written 3 s ago: the line's lag must be at least that, and not much more (the run itself takes well under 5 s).
    const writtenAtMs = Date.now() - 3_000;
    fs.utimesSync(file, writtenAtMs / 1000, writtenAtMs / 1000);
    const run = await runCliOk(['speed', '--once', '--data', data, '--batch-interval', '2s', '--slide', '10s', '--log-level', 'warn']);
    const lines = run.stdout.split('\n').filter((line) => line.includes(' lag '));
    const lags = lines.map((line) => /, lag ([\d,]+) ms \(micro-batch every 2,000 ms\), /.exec(line)?.[1]);
    expect(lags.length, run.stdout).toBeGreaterThan(0);
    const maxLagMs = Math.max(...lags.map((lag) => Number(lag!.replace(/,/g, ''))));
    expect(maxLagMs).toBeGreaterThanOrEqual(3_000);
    expect(maxLagMs).toBeLessThan(8_000);
  });
});
