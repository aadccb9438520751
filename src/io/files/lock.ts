// A pid lock file: one speed layer (or compaction, or replay) per data folder, so no stream file is ever ingested twice.
//
// The file holds the holder's pid and its process's start time. The start time tells "this very process holds it"
// (another thread of ours, e.g. compaction inside `all` asking for the speed layer's lock: refused) from "a dead
// process that had our pid holds it" (a container restarted as pid 1 after a kill -9: taken over).

import fs from 'node:fs';
import path from 'node:path';
import { LambdaflowError } from '../../core/errors.js';
import { isAlive } from './atomic.js';

export interface Lock {
  release(): void;
}

interface Holder {
  readonly pid: number;
  /** Undefined in a lock written before start times were recorded. */
  readonly startedAtMs: number | undefined;
}

/** This process's start time, the same in every thread of it (within a few ms of rounding). */
const processStartedAtMs = Math.round(Date.now() - process.uptime() * 1000);
const SAME_START_TOLERANCE_MS = 50;

/** Takes the lock, or throws E_LOCKED naming the live process that holds it; a dead holder's lock is taken over. */
export function acquireLock(lockPath: string, owner: string): Lock {
  fs.mkdirSync(path.dirname(lockPath), { recursive: true });
  const content = `${process.pid} ${processStartedAtMs}\n`;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      fs.writeFileSync(lockPath, content, { flag: 'wx' });
      return {
        release: () => {
          try {
            if (fs.readFileSync(lockPath, 'utf8') === content) fs.rmSync(lockPath, { force: true });
          } catch {
            // Already gone.
          }
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new LambdaflowError('E_WRITE', `cannot create the lock ${lockPath}: ${(error as Error).message}`, { file: lockPath });
      }
    }
    const holder = readHolder(lockPath);
    if (holder === undefined) continue; // released meanwhile: try again
    if (holds(holder)) {
      const who = holder.pid === process.pid ? 'this process' : `pid ${holder.pid}`;
      throw new LambdaflowError('E_LOCKED', `another ${owner} (${who}) is running on this data folder (${lockPath})`, { file: lockPath });
    }
    takeOverStale(lockPath, holder);
  }
  throw new LambdaflowError('E_LOCKED', `cannot take the lock ${lockPath}`, { file: lockPath });
}

/** Whether the holder is a live process: another live pid, or this process itself (same pid and start time). */
function holds(holder: Holder): boolean {
  if (holder.pid !== process.pid) return isAlive(holder.pid);
  return holder.startedAtMs !== undefined && Math.abs(holder.startedAtMs - processStartedAtMs) <= SAME_START_TOLERANCE_MS;
}

function readHolder(lockPath: string): Holder | undefined {
  try {
    const [pid, startedAtMs] = fs.readFileSync(lockPath, 'utf8').trim().split(/\s+/).map(Number);
    return { pid: Number.isInteger(pid) && pid! > 0 ? pid! : 0, startedAtMs: Number.isFinite(startedAtMs) ? startedAtMs : undefined };
  } catch {
    return undefined;
  }
}

/**
 * Moves a dead holder's lock away. A rename succeeds for one process only; if what it moved is not the dead
 * holder's lock (another process took over in between), it is put back with link(), which never overwrites.
 */
function takeOverStale(lockPath: string, dead: Holder): void {
  const stale = `${lockPath}.stale-${process.pid}`;
  try {
    fs.renameSync(lockPath, stale);
  } catch {
    return; // someone else moved it first: the next attempt sees their lock
  }
  const moved = readHolder(stale);
  if (moved?.pid !== dead.pid || moved.startedAtMs !== dead.startedAtMs) {
    try {
      fs.linkSync(stale, lockPath);
    } catch {
      // A newer lock is already in place.
    }
  }
  fs.rmSync(stale, { force: true });
}
