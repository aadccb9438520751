// Atomic publishing: files via temp + fsync + rename (in memory: write-file-atomic or publishNewFile; a piece at a time
// by synchronous code: FileInProgress), directory views via a hidden temp dir renamed into place; and the removal of
// the hidden temps a crash leaves behind.

import fs from 'node:fs';
import path from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { LambdaflowError } from '../../core/errors.js';

/** An output that could not be written, as the one error code every layer reports it with. */
export function writeError(target: string, cause: unknown): LambdaflowError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new LambdaflowError('E_WRITE', `cannot write ${target}: ${reason}`, { file: target }, { cause });
}

/** Writes a file so that readers see the old content or the new, never a part. */
export async function writeFileAtomically(target: string, data: string | Uint8Array): Promise<void> {
  try {
    await fs.promises.mkdir(path.dirname(target), { recursive: true });
    await writeFileAtomic(target, typeof data === 'string' ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength), { fsync: true });
  } catch (cause) {
    throw writeError(target, cause);
  }
}

/** Makes a folder's entries (a rename, a new file) durable, without blocking the thread (a journal commit can take tens of ms). */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await fs.promises.open(dir, 'r').catch(() => undefined);
  // Some file systems refuse fsync on directories; the rename is still atomic there.
  await handle?.sync().catch(() => undefined);
  await handle?.close();
}

/** Makes a folder's entries (a rename, a new file) durable: for callers that cannot wait (syncDirectory otherwise). */
export function fsyncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // Some file systems refuse fsync on directories; the rename is still atomic there.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/**
 * Publishes a new file into a folder that is watched for complete files: written under a hidden temp name
 * (hiddenTempPath, which readers ignore and removeStaleTemps cleans up after a crash), fsynced, renamed to `name`,
 * then the folder fsynced. The caller picks a name that is not taken.
 */
export async function publishNewFile(dir: string, name: string, data: Uint8Array): Promise<string> {
  const target = path.join(dir, name);
  const temp = hiddenTempPath(target);
  try {
    await fs.promises.mkdir(dir, { recursive: true });
    const handle = await fs.promises.open(temp, 'wx');
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.promises.rename(temp, target);
  } catch (cause) {
    await fs.promises.rm(temp, { force: true }).catch(() => undefined);
    throw writeError(target, cause);
  }
  await syncDirectory(dir);
  return target;
}

let lastTempStamp = 0;

/**
 * A hidden temp name beside `target`, `.<name>.tmp-<pid>-<stamp>`: listings skip it, and removeStaleTemps tells from
 * the pid whether its writer is gone. The stamp is the time in ms, made unique within this process.
 */
export function hiddenTempPath(target: string): string {
  lastTempStamp = Math.max(Date.now(), lastTempStamp + 1);
  return path.join(path.dirname(target), `.${path.basename(target)}.tmp-${process.pid}-${lastTempStamp}`);
}

/**
 * A file written a piece at a time by synchronous code (the caller writes to `fd`) under a hidden temp name in its
 * folder, then published by rename: sync, then publish (or discard, which also serves after a failed publish).
 */
export class FileInProgress {
  private open = true;

  private constructor(
    private readonly dir: string,
    readonly tempPath: string,
    readonly fd: number,
  ) {}

  /** A new temp file in `dir` named after `stem` (its final name may not be known yet). */
  static create(dir: string, stem: string): FileInProgress {
    const tempPath = hiddenTempPath(path.join(dir, stem));
    let fd: number;
    try {
      fd = fs.openSync(tempPath, 'wx');
    } catch (cause) {
      throw writeError(tempPath, cause);
    }
    return new FileInProgress(dir, tempPath, fd);
  }

  /** Makes what was written durable and closes the file. */
  sync(): void {
    fs.fsyncSync(this.fd);
    this.close();
  }

  /** Renames the synced file to `name` in its folder, and makes the new entry durable; returns its path. */
  publish(name: string): string {
    const target = path.join(this.dir, name);
    fs.renameSync(this.tempPath, target);
    fsyncDirectory(this.dir);
    return target;
  }

  /** Closes and removes the temp file. */
  discard(): void {
    if (this.open) this.close();
    fs.rmSync(this.tempPath, { force: true });
  }

  private close(): void {
    this.open = false;
    fs.closeSync(this.fd);
  }
}

/** A directory being written under a hidden temporary name, published in one rename once complete. */
export class DirectoryPublisher {
  readonly tempDir: string;
  private readonly subfolders: string[] = [];

  private constructor(
    readonly finalDir: string,
    tempDir: string,
  ) {
    this.tempDir = tempDir;
  }

  static async begin(finalDir: string): Promise<DirectoryPublisher> {
    const tempDir = hiddenTempPath(finalDir);
    try {
      await fs.promises.mkdir(tempDir, { recursive: true });
    } catch (cause) {
      throw writeError(tempDir, cause);
    }
    return new DirectoryPublisher(finalDir, tempDir);
  }

  pathOf(name: string): string {
    return path.join(this.tempDir, name);
  }

  /** Makes a folder inside the one being published (synced at commit, before the rename); returns its temp path. */
  async subfolder(name: string): Promise<string> {
    const dir = this.pathOf(name);
    try {
      await fs.promises.mkdir(dir);
    } catch (cause) {
      throw writeError(dir, cause);
    }
    this.subfolders.push(dir);
    return dir;
  }

  async write(name: string, data: string | Uint8Array): Promise<void> {
    try {
      const handle = await fs.promises.open(this.pathOf(name), 'w');
      try {
        await handle.writeFile(data);
        await handle.sync();
      } finally {
        await handle.close();
      }
    } catch (cause) {
      throw writeError(this.pathOf(name), cause);
    }
  }

  /** Writes `_SUCCESS` last, then renames the directory into place. */
  async commit(): Promise<string> {
    await this.write('_SUCCESS', '');
    try {
      for (const dir of this.subfolders) await syncDirectory(dir);
      await syncDirectory(this.tempDir);
      await fs.promises.rename(this.tempDir, this.finalDir);
      await syncDirectory(path.dirname(this.finalDir));
    } catch (cause) {
      await this.abort();
      throw writeError(this.finalDir, cause);
    }
    return this.finalDir;
  }

  async abort(): Promise<void> {
    await fs.promises.rm(this.tempDir, { recursive: true, force: true });
  }
}

/** When this process started: a temp file of its pid last changed before that was left by an earlier holder of the pid. */
const processStartMs = Date.now() - process.uptime() * 1000;

/**
 * Removes temp directories and files left in `dir` by processes that died mid-write (only `.<namePrefix>…` ones when
 * given): those of a pid no longer running, and those of this pid last changed before this process started (a
 * container restarted after a kill -9 runs as pid 1 again). With `atomicTargets`, also write-file-atomic's temp files
 * `<target>.<number>` of the targets it matches (or the one it names), last changed before this process started (they carry no pid; one
 * changed since may be another running process's write in flight).
 */
export async function removeStaleTemps(dir: string, namePrefix = '', atomicTargets?: RegExp | string): Promise<void> {
  let names: string[];
  try {
    names = await fs.promises.readdir(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const atomic = atomicTargets && /^(.+)\.\d{1,10}$/.exec(name);
    if (atomic && (typeof atomicTargets === 'string' ? atomic[1] === atomicTargets : atomicTargets.test(atomic[1]!))) {
      if (await leftBeforeThisProcess(path.join(dir, name))) await fs.promises.rm(path.join(dir, name), { force: true });
      continue;
    }
    const match = /^\..*\.tmp-(\d+)-\d+$/.exec(name);
    if (!match || !name.startsWith(`.${namePrefix}`)) continue;
    const pid = Number(match[1]);
    if (pid === process.pid ? !(await leftBeforeThisProcess(path.join(dir, name))) : isAlive(pid)) continue;
    await fs.promises.rm(path.join(dir, name), { recursive: true, force: true });
  }
}

async function leftBeforeThisProcess(file: string): Promise<boolean> {
  const stat = await fs.promises.lstat(file).catch(() => undefined);
  return stat !== undefined && stat.mtimeMs < processStartMs;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
