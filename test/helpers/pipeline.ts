// Feeding a pipeline under test: batch inputs, stream files delivered the way producers must, seeded chunks of
// events, waiting for what a running layer publishes, and views published by hand for the serving layer alone.

import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { checkedJsonText, contentCheckOf } from '../../src/io/files/content-check.js';
import { describeRun, runCli } from './cli.js';
import { httpRequest } from './http-client.js';
import { loggedStreamFiles, plain, readMergedView } from './outputs.js';
import { seeded } from './prng.js';
import { type Recount, expectedViewLines, recountDataFolder, recountMasterDataset } from './reference.js';

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

/** Reads (e.g. over HTTP) until `accept` takes the value, and returns it; fails with the last value after the deadline. */
export async function waitForValue<T>(read: () => Promise<T>, accept: (value: T) => boolean, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (accept(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Waits until the service at `url` answers /readyz 200: its first consistent view is loaded. */
export async function waitUntilReady(url: string, timeoutMs = 20_000): Promise<void> {
  await waitForValue(
    () => httpRequest(`${url}/readyz`).then((a) => a.status),
    (status) => status === 200,
    timeoutMs,
    '/readyz 200',
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Views published by hand (README "Data folder layout"), for serving-layer tests that run no batch or speed layer.
// Every view is recounted from the master dataset it claims to cover, so what the serving layer merges from them
// must equal recountMasterDataset(): a folder written here is consistent by construction, unless a test removes
// a piece on purpose.

/** Publishes a directory the way the layers do: files under a hidden temp name, `_SUCCESS` last, one rename. */
function publishDirectory(dir: string, files: Readonly<Record<string, string>>): void {
  const temp = path.join(path.dirname(dir), `.${path.basename(dir)}.tmp`);
  fs.mkdirSync(temp, { recursive: true });
  for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(temp, name), content);
  fs.writeFileSync(path.join(temp, '_SUCCESS'), '');
  fs.renameSync(temp, dir);
}

/** `<parent>/<prefix><ms>` for the first ms from now not taken yet (names carry their creation time). */
function freshViewDir(parent: string, prefix: string): { dir: string; ms: number } {
  fs.mkdirSync(parent, { recursive: true });
  let ms = Date.now();
  while (fs.existsSync(path.join(parent, `${prefix}${ms}`))) ms++;
  return { dir: path.join(parent, `${prefix}${ms}`), ms };
}

const viewText = (recount: Recount): string =>
  expectedViewLines(recount.totals)
    .map((line) => `${line}\n`)
    .join('');

/**
 * Drops stream files (temp name, rename) and appends them to the ingest log as the speed layer does, one seq each,
 * continuing the log. Returns their seqs.
 */
export function ingestStreamFiles(dataDir: string, texts: readonly string[], ingestedAtMs = Date.now()): number[] {
  const log = path.join(dataDir, 'ingest', 'ingest.log');
  fs.mkdirSync(path.dirname(log), { recursive: true });
  const last = loggedStreamFiles(dataDir).at(-1)?.seq ?? 0;
  return texts.map((text, i) => {
    const seq = last + i + 1;
    const name = `hand-${String(seq).padStart(6, '0')}.csv`;
    dropStreamFile(dataDir, name, text);
    fs.appendFileSync(log, `${JSON.stringify({ seq, name, size: Buffer.byteLength(text), ingestedAtMs })}\n`);
    return seq;
  });
}

/** Publishes `serving/batch/batch-<ms>/`: batch_input/ plus logged seqs 1..streamWatermark, its manifest saying so. */
export function publishBatchView(dataDir: string, streamWatermark: number): string {
  const { dir, ms } = freshViewDir(path.join(dataDir, 'serving', 'batch'), 'batch-');
  const recount = recountDataFolder(dataDir, { history: true, afterSeq: 0, throughSeq: streamWatermark });
  const manifest = {
    createdAtMs: ms,
    streamWatermark,
    rowsRead: recount.rows,
    purchases: recount.purchases,
    users: recount.totals.size,
    badRowsTotal: recount.bad.length,
  };
  publishDirectory(dir, { 'part-00000': viewText(recount), '_MANIFEST.json': `${JSON.stringify(manifest)}\n` });
  return dir;
}

/** Publishes `serving/realtime/realtime-<ms>/`: logged seqs (watermark, throughSeq], relative to batch watermark `watermark`. */
export function publishRealtimeView(dataDir: string, watermark: number, throughSeq: number): string {
  const { dir, ms } = freshViewDir(path.join(dataDir, 'serving', 'realtime'), 'realtime-');
  const ingestedAtMs = loggedStreamFiles(dataDir).find((e) => e.seq === throughSeq)?.ingestedAtMs ?? null;
  const part = viewText(recountDataFolder(dataDir, { history: false, afterSeq: watermark, throughSeq }));
  // With the checks readers require: the part's lines and CRC-32, and the JSON's own.
  const meta = { watermark, throughSeq, createdAtMs: ms, lastIngestedAtMs: ingestedAtMs, parts: { 'part-00000': contentCheckOf(Buffer.from(part)) } };
  publishDirectory(dir, { 'part-00000': part, '_REALTIME.json': checkedJsonText(meta) });
  publishRealtimeHead(dataDir, watermark, throughSeq);
  return dir;
}

/** Writes the realtime head (`serving/realtime/head.json`) as the speed layer does after a micro-batch: the view reaches throughSeq. */
export function publishRealtimeHead(dataDir: string, watermark: number, throughSeq: number, more: Record<string, unknown> = {}): void {
  const file = path.join(dataDir, 'serving', 'realtime', 'head.json');
  const lastIngestedAtMs = loggedStreamFiles(dataDir).find((e) => e.seq === throughSeq)?.ingestedAtMs ?? null;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(`${file}.tmp`, checkedJsonText({ watermark, throughSeq, lastIngestedAtMs, ...more }));
  fs.renameSync(`${file}.tmp`, file);
}

/** Writes one realtime delta file per seq (`serving/realtime/deltas/delta-A-A.csv`, lines `seq,user_id,count,amount`). */
export function writeRealtimeDeltas(dataDir: string, seqs: readonly number[]): void {
  const dir = path.join(dataDir, 'serving', 'realtime', 'deltas');
  fs.mkdirSync(dir, { recursive: true });
  for (const seq of seqs) {
    const lines = expectedViewLines(recountDataFolder(dataDir, { history: false, afterSeq: seq - 1, throughSeq: seq }).totals).map(
      (line) => `${seq},${line}\n`,
    );
    const name = `delta-${String(seq).padStart(12, '0')}-${String(seq).padStart(12, '0')}.csv`;
    fs.writeFileSync(path.join(dir, `.${name}.tmp`), lines.join(''));
    fs.renameSync(path.join(dir, `.${name}.tmp`), path.join(dir, name));
  }
}

/** Runs `merge --once` and expects a clean run whose merged view equals a recount of the master dataset. */
export async function expectExactMerge(dataDir: string): Promise<void> {
  const merged = await runCli(['merge', '--once', '--data', dataDir]);
  expect(merged.code, describeRun(merged)).toBe(0);
  expect(merged.stderr).toBe('');
  expect(plain(readMergedView(dataDir))).toEqual(plain(recountMasterDataset(dataDir)));
}
