// File-system tools for fault and hostile-input tests: tree snapshots that prove nothing changed where it must not,
// tmpfs mounts standing in for a full or read-only disk, FIFOs, and the pid of a writer that died.

import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach } from 'vitest';

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

/** Every file of a directory tree with its content hash, to prove a published view was left intact. */
export function treeDigest(dir: string): Record<string, string> {
  return Object.fromEntries(snapshotTree(dir));
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

/**
 * For a test file: returns a mounter of tmpfs file systems (false where this machine does not allow it) that are
 * unmounted after each test (`'test'`) or once the file's tests are done (`'file'`). Call it after tempRoots() and
 * before registering hooks that stop children writing there: vitest runs after-hooks in reverse order.
 */
export function tmpfsMounts(unmountAfter: 'test' | 'file' = 'test'): (dir: string, sizeBytes: number) => boolean {
  const mounted: string[] = [];
  (unmountAfter === 'test' ? afterEach : afterAll)(() => {
    for (const dir of mounted.splice(0).reverse()) unmount(dir);
  });
  return (dir, sizeBytes) => {
    if (!tryMountTmpfs(dir, sizeBytes)) return false;
    mounted.push(dir);
    return true;
  };
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

/** A process id that is certainly not running: one of a child that has exited (for the temp names a crash leaves). */
export function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '']).pid;
}
