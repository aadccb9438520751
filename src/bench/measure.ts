// Runs a command as a separate process, timed from spawn to exit, with its peak RSS where GNU time can report it.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LambdaflowError } from '../core/errors.js';

export interface MeasuredRun {
  readonly wallMs: number;
  /** Peak resident set size of the process, undefined when GNU time is not available. */
  readonly peakRssBytes: number | undefined;
  readonly stdout: string;
}

const GNU_TIME = '/usr/bin/time';
let gnuTimeWorks: boolean | undefined;

/** True when /usr/bin/time understands GNU's `-f %M -o file` (BSD and busybox versions do not). */
function hasGnuTime(): boolean {
  if (gnuTimeWorks === undefined) {
    const probe = path.join(os.tmpdir(), `lambdaflow-time-probe-${process.pid}`);
    const result = spawnSync(GNU_TIME, ['-f', '%M', '-o', probe, process.execPath, '-e', ''], { stdio: 'ignore' });
    gnuTimeWorks = result.status === 0 && fs.existsSync(probe) && /^\d+\s*$/.test(fs.readFileSync(probe, 'utf8'));
    fs.rmSync(probe, { force: true });
  }
  return gnuTimeWorks;
}

/** The compiled CLI entry point (`dist/main.js`), also when this module runs from source. */
export function mainScriptPath(): string {
  const here = new URL(import.meta.url);
  return fileURLToPath(here.pathname.endsWith('.ts') ? new URL('../../dist/main.js', here) : new URL('../../main.js', here));
}

let runCounter = 0;

/** Spawns `command args`, resolving once it exits with code 0; `what` names it in the error otherwise. */
export async function runMeasured(command: string, args: readonly string[], what: string): Promise<MeasuredRun> {
  const rssFile = hasGnuTime() ? path.join(os.tmpdir(), `lambdaflow-rss-${process.pid}-${++runCounter}`) : undefined;
  const [file, argv] = rssFile === undefined ? [command, [...args]] : [GNU_TIME, ['-f', '%M', '-o', rssFile, command, ...args]];
  const startedAt = performance.now();
  const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
  let exitedAt = 0;
  child.once('exit', () => (exitedAt = performance.now()));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  try {
    if (code !== 0) {
      const lastLine =
        Buffer.concat(stderr)
          .toString('utf8')
          .trim()
          .split('\n')
          .filter((l) => !/^\d+$/.test(l))
          .at(-1) ?? '';
      throw new LambdaflowError('E_WORKER', `${what} exited with code ${code}${lastLine ? `: ${lastLine}` : ''}`);
    }
    const peakRssKiB = rssFile === undefined ? undefined : Number(fs.readFileSync(rssFile, 'utf8').trim());
    return {
      wallMs: exitedAt - startedAt,
      peakRssBytes: peakRssKiB === undefined || !Number.isFinite(peakRssKiB) ? undefined : peakRssKiB * 1024,
      stdout: Buffer.concat(stdout).toString('utf8'),
    };
  } finally {
    if (rssFile !== undefined) fs.rmSync(rssFile, { force: true });
  }
}
