// Test helpers for driving the real CLI on temp data folders and recounting expected totals independently.

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach } from 'vitest';
import { seeded } from './prng.js';

export const MAIN = path.resolve(__dirname, '../../dist/main.js');

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function runCli(args: readonly string[], timeoutMs = 120_000): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile('node', [MAIN, ...args], { timeout: timeoutMs, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

export function spawnCli(args: readonly string[]): ChildProcess & { output: () => string } {
  const child = spawn('node', [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  return Object.assign(child, { output: () => output });
}

export function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
    child.once('exit', (code) => resolve(code));
  });
}

export function tempDataDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'lf-'));
}

/** For a test file: returns a maker of temp folders that are removed after each test. */
export function tempDirsPerTest(): () => string {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  });
  return () => {
    const dir = tempDataDir();
    dirs.push(dir);
    return dir;
  };
}

export async function waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Writes a stream chunk the way producers must: hidden temp name, then rename into the watched folder. */
export function dropStreamFile(dataDir: string, name: string, text: string | Uint8Array): void {
  const dir = path.join(dataDir, 'stream_input');
  fs.mkdirSync(dir, { recursive: true });
  const temp = path.join(dir, `.${name}.tmp`);
  fs.writeFileSync(temp, text);
  fs.renameSync(temp, path.join(dir, name));
}

/** Highest throughSeq among complete realtime views (0 when none). */
export function realtimeThroughSeq(dataDir: string): number {
  const dir = path.join(dataDir, 'serving', 'realtime');
  if (!fs.existsSync(dir)) return 0;
  let best = 0;
  for (const name of fs.readdirSync(dir)) {
    const meta = path.join(dir, name, '_REALTIME.json');
    if (!/^realtime-\d+$/.test(name) || !fs.existsSync(path.join(dir, name, '_SUCCESS'))) continue;
    try {
      best = Math.max(best, (JSON.parse(fs.readFileSync(meta, 'utf8')) as { throughSeq: number }).throughSeq);
    } catch {
      // pruned by a newer view between listing and reading
    }
  }
  return best;
}

export type Totals = Map<string, { count: number; cents: number }>;

/** Cents of a decimal written with at most two fraction digits, computed independently of src/. */
function cents(amount: string): number {
  const negative = amount.startsWith('-');
  const [whole, fraction = ''] = amount.replace(/^[-+]/, '').split('.');
  const value = Number(whole) * 100 + Number((fraction + '00').slice(0, 2));
  return negative ? -value : value;
}

/** Adds the purchase rows of simple (unquoted, well-formed) CSV text. */
export function addPurchases(totals: Totals, text: string): void {
  for (const line of text.split(/\r?\n/)) {
    const fields = line.split(',');
    if (fields.length !== 4 || fields[1] !== 'purchase') continue;
    const t = totals.get(fields[0]!) ?? { count: 0, cents: 0 };
    t.count += 1;
    t.cents += cents(fields[2]!);
    totals.set(fields[0]!, t);
  }
}

/** The logged stream files, as the test reads the ingest log. */
export function loggedStreamFiles(dataDir: string): { seq: number; name: string; size: number }[] {
  const log = path.join(dataDir, 'ingest', 'ingest.log');
  if (!fs.existsSync(log)) return [];
  return fs
    .readFileSync(log, 'utf8')
    .split('\n')
    .filter((l) => l.endsWith('}'))
    .map((l) => JSON.parse(l) as { seq: number; name: string; size: number });
}

/** Independent recount: every purchase in batch_input/*.csv plus every logged stream file's logged prefix. */
export function recount(dataDir: string): Totals {
  const totals: Totals = new Map();
  const batchDir = path.join(dataDir, 'batch_input');
  for (const name of fs.existsSync(batchDir) ? fs.readdirSync(batchDir) : []) {
    if (name.endsWith('.csv') && !name.startsWith('.')) addPurchases(totals, fs.readFileSync(path.join(batchDir, name), 'utf8'));
  }
  for (const entry of loggedStreamFiles(dataDir)) {
    const bytes = fs.readFileSync(path.join(dataDir, 'stream_input', entry.name)).subarray(0, entry.size);
    addPurchases(totals, bytes.toString('utf8'));
  }
  for (const [user, t] of totals) if (t.count === 0 && t.cents === 0) totals.delete(user);
  return totals;
}

/** merged_view.csv as totals, after checking its header and order. */
export function readMergedView(dataDir: string): Totals {
  const lines = fs.readFileSync(path.join(dataDir, 'serving', 'view', 'merged_view.csv'), 'utf8').split('\n');
  if (lines[0] !== 'user_id,purchase_count_total,purchase_amount_total') throw new Error(`bad header: ${lines[0]}`);
  const totals: Totals = new Map();
  let previous = '';
  for (const line of lines.slice(1)) {
    if (line === '') continue;
    const [user, count, amount] = line.split(',');
    if (!/^-?\d+\.\d\d$/.test(amount!)) throw new Error(`amount not two decimals: ${line}`);
    if (previous !== '' && !(previous < user!)) throw new Error(`not sorted: ${previous} before ${user}`);
    previous = user!;
    totals.set(user!, { count: Number(count), cents: cents(amount!) });
  }
  return totals;
}

export function totalsObject(totals: Totals): Record<string, { count: number; cents: number }> {
  return Object.fromEntries([...totals.entries()].sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** A simple CSV chunk (no header, unquoted) of purchases and views for users u0..u(users-1), seeded. */
export function chunkText(seed: number, rows: number, users = 50): string {
  const random = seeded(seed);
  let text = '';
  for (let i = 0; i < rows; i++) {
    const user = `u${random.int(users)}`;
    const purchase = random.chance(0.5);
    const amount = purchase ? `${random.int(500)}.${String(random.int(100)).padStart(2, '0')}` : '0.00';
    text += `${user},${purchase ? 'purchase' : 'view'},${amount},${1_700_000_000 + i}\n`;
  }
  return text;
}
