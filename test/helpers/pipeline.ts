// Feeding a pipeline under test: batch inputs, stream files delivered the way producers must, seeded chunks of
// events, and waiting for what a running layer publishes.

import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { describeRun, runCli } from './cli.js';
import { plain, readMergedView } from './outputs.js';
import { seeded } from './prng.js';
import { recountMasterDataset } from './reference.js';

/** Writes files (name → content) into <data>/batch_input/, creating it. */
export function writeBatchInputs(dataDir: string, files: Readonly<Record<string, string | Uint8Array>>): void {
  const dir = path.join(dataDir, 'batch_input');
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), content);
}

/** Writes a stream file the way producers must: hidden temp name, then rename into the watched folder. */
export function dropStreamFile(dataDir: string, name: string, content: string | Uint8Array): void {
  const dir = path.join(dataDir, 'stream_input');
  fs.mkdirSync(dir, { recursive: true });
  const temp = path.join(dir, `.${name}.tmp`);
  fs.writeFileSync(temp, content);
  fs.renameSync(temp, path.join(dir, name));
}

/** Writes `<data>/quarantine/<name>` as a user editing it would leave it: `line_number<TAB>reason<TAB>row` lines. */
export function writeQuarantineEntries(dataDir: string, name: string, entries: readonly { line: number; reason: string; text: string }[]): void {
  fs.writeFileSync(path.join(dataDir, 'quarantine', name), entries.map((e) => `${e.line}\t${e.reason}\t${e.text}\n`).join(''));
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

export async function waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Runs `merge --once` and expects a clean run whose merged view equals a recount of the master dataset. */
export async function expectExactMerge(dataDir: string): Promise<void> {
  const merged = await runCli(['merge', '--once', '--data', dataDir]);
  expect(merged.code, describeRun(merged)).toBe(0);
  expect(merged.stderr).toBe('');
  expect(plain(readMergedView(dataDir))).toEqual(plain(recountMasterDataset(dataDir)));
}
