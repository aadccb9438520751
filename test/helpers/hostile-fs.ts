// File-system side of the hostile-input and fault tests: temp roots with an "outside" next to the data folder,
// snapshots that prove nothing was written outside --data, quote-aware readers of published views, tmpfs mounts.
//
// Readers here are written from the README's formats alone (they never import src/): view lines are
// `user_id,count,amount` with RFC 4180 quoting of the user id and amounts with exactly two decimals.

import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Totals } from '../fixtures/generate-hostile.js';

/** A temp root holding `data/` (the --data folder) and `outside/` (which must never change). */
export interface TempRoot {
  readonly root: string;
  readonly data: string;
  readonly outside: string;
}

const roots: string[] = [];

export function makeTempRoot(prefix = 'lf-hostile-'): TempRoot {
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)));
  roots.push(root);
  const data = path.join(root, 'data');
  const outside = path.join(root, 'outside');
  fs.mkdirSync(data);
  fs.mkdirSync(outside);
  return { root, data, outside };
}

/** Removes every temp root made so far (set LF_KEEP_TMP=1 to keep them for a post-mortem). */
export function removeTempRoots(): void {
  for (const root of roots.splice(0)) if (!process.env.LF_KEEP_TMP) fs.rmSync(root, { recursive: true, force: true });
}

/**
 * Every entry under `root` except the `exclude` subtrees, without following symlinks: relative path → type, mode,
 * size and a content hash (files) or link text (symlinks). Two equal snapshots mean nothing was created, removed or
 * written there.
 */
export function snapshotTree(root: string, exclude: readonly string[] = []): Map<string, string> {
  const skip = new Set(exclude.map((p) => path.resolve(p)));
  const out = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const name of fs.readdirSync(dir)) {
      const full = path.join(dir, name);
      if (skip.has(full)) continue;
      const st = fs.lstatSync(full);
      const rel = path.relative(root, full);
      if (st.isSymbolicLink()) out.set(rel, `link ${fs.readlinkSync(full)}`);
      else if (st.isDirectory()) {
        out.set(rel, `dir ${st.mode.toString(8)}`);
        walk(full);
      } else if (st.isFile()) {
        out.set(rel, `file ${st.mode.toString(8)} ${st.size} ${crypto.createHash('sha256').update(fs.readFileSync(full)).digest('hex')}`);
      } else out.set(rel, `other ${st.mode.toString(8)}`);
    }
  };
  walk(root);
  return out;
}

/** Every path under `root` (recursively, links not followed) whose base name is `name`. */
export function findByName(root: string, name: string): string[] {
  const found: string[] = [];
  const walk = (dir: string): void => {
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch {
      return;
    }
    for (const n of names) {
      const full = path.join(dir, n);
      if (n === name) found.push(full);
      const st = fs.lstatSync(full, { throwIfNoEntry: false });
      if (st?.isDirectory()) walk(full);
    }
  };
  walk(root);
  return found;
}

// ---------------------------------------------------------------------------------------------------------------
// Reading published output.

/** Splits one CSV line (RFC 4180 quoting, no embedded newlines); throws on broken quoting. */
export function splitCsvLine(line: string): string[] {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let value = '';
      i++;
      for (;;) {
        const close = line.indexOf('"', i);
        if (close < 0) throw new Error(`unterminated quote in ${JSON.stringify(line)}`);
        value += line.slice(i, close);
        if (line[close + 1] === '"') {
          value += '"';
          i = close + 2;
        } else {
          i = close + 1;
          break;
        }
      }
      fields.push(value);
      if (i === line.length) return fields;
      if (line[i] !== ',') throw new Error(`text after a closing quote in ${JSON.stringify(line)}`);
      i++;
    } else {
      const comma = line.indexOf(',', i);
      if (comma < 0) {
        fields.push(line.slice(i));
        return fields;
      }
      fields.push(line.slice(i, comma));
      i = comma + 1;
    }
  }
}

function centsOf(amount: string, where: string): number {
  const m = /^(-?)(\d+)\.(\d\d)$/.exec(amount);
  if (!m) throw new Error(`${where}: amount ${JSON.stringify(amount)} does not have exactly two decimals`);
  const cents = Number(m[2]) * 100 + Number(m[3]);
  return m[1] === '-' ? -cents : cents;
}

/** Adds view lines (`user,count,amount`) to totals; `header` is checked and skipped when given. */
function addViewText(totals: Totals, textContent: string, where: string, header?: string): void {
  const lines = textContent.split('\n');
  if (header !== undefined && lines.shift() !== header) throw new Error(`${where}: bad header`);
  if (lines.at(-1) === '') lines.pop();
  let previous: string | undefined;
  lines.forEach((line, i) => {
    const fields = splitCsvLine(line);
    if (fields.length !== 3) throw new Error(`${where} line ${i + 1}: ${JSON.stringify(line)} is not user,count,amount`);
    const [user, count, amount] = fields as [string, string, string];
    if (!/^\d+$/.test(count)) throw new Error(`${where} line ${i + 1}: bad count ${count}`);
    if (previous !== undefined && !(previous < user)) throw new Error(`${where}: not sorted by user_id (${JSON.stringify(previous)} then ${JSON.stringify(user)})`);
    previous = user;
    if (totals.has(user)) throw new Error(`${where}: user ${JSON.stringify(user)} listed twice`);
    totals.set(user, { count: Number(count), cents: centsOf(amount, `${where} line ${i + 1}`) });
  });
}

export const MERGED_HEADER = 'user_id,purchase_count_total,purchase_amount_total';

export function readMergedTotals(dataDir: string): Totals {
  const file = path.join(dataDir, 'serving', 'view', 'merged_view.csv');
  const totals: Totals = new Map();
  addViewText(totals, fs.readFileSync(file, 'utf8'), file, MERGED_HEADER);
  return totals;
}

/** The union of a view directory's part files (a user must sit in exactly one part). */
export function readPartTotals(viewDir: string): Totals {
  const totals: Totals = new Map();
  for (const name of fs.readdirSync(viewDir).filter((n) => n.startsWith('part-')).sort()) {
    const partTotals: Totals = new Map();
    addViewText(partTotals, fs.readFileSync(path.join(viewDir, name), 'utf8'), path.join(viewDir, name));
    for (const [user, t] of partTotals) {
      if (totals.has(user)) throw new Error(`${viewDir}: user ${JSON.stringify(user)} in two part files`);
      totals.set(user, t);
    }
  }
  return totals;
}

/** Sorted plain object of totals, for readable toEqual diffs. */
export function plain(totals: Totals): Record<string, { count: number; cents: number }> {
  return Object.fromEntries([...totals].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([u, t]) => [u, { count: t.count, cents: t.cents }]));
}

export interface ManifestOnDisk {
  streamWatermark: number;
  inputs: { name: string; source: string; size: number }[];
  rowsRead: number;
  purchases: number;
  views: number;
  badRows: Record<string, number>;
  badRowsTotal: number;
  users: number;
  purchaseCentsTotal: number;
}

/** Published batch views (with `_SUCCESS`), oldest first by the time in their name. */
export function completeBatchViews(dataDir: string): string[] {
  const dir = path.join(dataDir, 'serving', 'batch');
  if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) return [];
  return fs
    .readdirSync(dir)
    .filter((n) => /^batch-\d+$/.test(n) && fs.existsSync(path.join(dir, n, '_SUCCESS')))
    .sort((a, b) => Number(a.slice(6)) - Number(b.slice(6)))
    .map((n) => path.join(dir, n));
}

/** Entries of serving/batch that are neither published views nor expected: leftovers of an aborted run. */
export function batchLeftovers(dataDir: string): string[] {
  const dir = path.join(dataDir, 'serving', 'batch');
  if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) return [];
  return fs.readdirSync(dir).filter((n) => !(/^batch-\d+$/.test(n) && fs.existsSync(path.join(dir, n, '_SUCCESS'))));
}

export function readManifest(viewDir: string): ManifestOnDisk {
  return JSON.parse(fs.readFileSync(path.join(viewDir, '_MANIFEST.json'), 'utf8')) as ManifestOnDisk;
}

/** Every file of a directory tree with its content hash, to prove a published view was left intact. */
export function treeDigest(dir: string): Record<string, string> {
  return Object.fromEntries(snapshotTree(dir));
}

export function quarantineDir(dataDir: string): string {
  return path.join(dataDir, 'quarantine');
}

/** Names in <data>/quarantine (empty when the folder does not exist). */
export function quarantineNames(dataDir: string): string[] {
  const dir = quarantineDir(dataDir);
  return fs.existsSync(dir) ? fs.readdirSync(dir).sort() : [];
}

// ---------------------------------------------------------------------------------------------------------------
// Mounts (root only): a tiny tmpfs stands in for a full or read-only disk.

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** Mounts a tmpfs of `sizeBytes` on `dir`; false when this machine does not allow it. */
export function tryMountTmpfs(dir: string, sizeBytes: number): boolean {
  if (!isRoot()) return false;
  fs.mkdirSync(dir, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes}`, 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function remount(dir: string, mode: 'ro' | 'rw'): void {
  execFileSync('mount', ['-o', `remount,${mode}`, dir], { stdio: 'ignore' });
}

/** Unmounts `dir` if something is mounted there (lazily if busy); never throws. */
export function unmount(dir: string): void {
  for (const args of [[dir], ['-l', dir]]) {
    try {
      execFileSync('umount', args, { stdio: 'ignore' });
      return;
    } catch {
      // not mounted, or busy: try the lazy form, then give up
    }
  }
}

/** Whether writing into `dir` actually fails (root ignores permission bits, so chmod alone proves nothing). */
export function isReallyReadOnly(dir: string): boolean {
  const probe = path.join(dir, `.probe-${process.pid}`);
  try {
    fs.writeFileSync(probe, '');
    fs.rmSync(probe);
    return false;
  } catch {
    return true;
  }
}

/** Fills the file system holding `dir` with one file until it is full; returns the filler's path. */
export function fillDisk(dir: string): string {
  const filler = path.join(dir, 'filler.bin');
  const fd = fs.openSync(filler, 'w');
  const piece = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) fs.writeSync(fd, piece);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  } finally {
    fs.closeSync(fd);
  }
  // Whatever is left is smaller than one piece; take that too, byte pieces at a time.
  const fd2 = fs.openSync(filler, 'a');
  try {
    for (;;) fs.writeSync(fd2, Buffer.alloc(512, 1));
  } catch {
    // full
  } finally {
    fs.closeSync(fd2);
  }
  return filler;
}

export function mkfifo(file: string): void {
  execFileSync('mkfifo', [file]);
}
