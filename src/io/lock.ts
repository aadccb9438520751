// A pid lock file: one speed layer per data folder, so no stream file is ever ingested twice.

import fs from 'node:fs';
import path from 'node:path';
import { LambdaflowError } from '../core/errors.js';
import { isAlive } from './atomic.js';

export interface Lock {
  release(): void;
}

/** Takes the lock, or throws E_LOCKED naming the live process that holds it; a dead holder's lock is taken over. */
export function acquireLock(lockPath: string, owner: string): Lock {
  fs.mkdirSync(path.dirname(lockPath), { recursive: true });
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      fs.writeFileSync(lockPath, `${process.pid}\n`, { flag: 'wx' });
      return {
        release: () => {
          try {
            if (fs.readFileSync(lockPath, 'utf8').trim() === String(process.pid)) fs.rmSync(lockPath, { force: true });
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
    if (holder !== process.pid && isAlive(holder)) {
      throw new LambdaflowError('E_LOCKED', `another ${owner} (pid ${holder}) is running on this data folder (${lockPath})`, { file: lockPath });
    }
    takeOverStale(lockPath, holder);
  }
  throw new LambdaflowError('E_LOCKED', `cannot take the lock ${lockPath}`, { file: lockPath });
}

function readHolder(lockPath: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(lockPath, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : 0;
  } catch {
    return undefined;
  }
}

/**
 * Moves a dead holder's lock away. A rename succeeds for one process only; if what it moved is not the dead
 * holder's lock (another process took over in between), it is put back with link(), which never overwrites.
 */
function takeOverStale(lockPath: string, deadHolder: number): void {
  const stale = `${lockPath}.stale-${process.pid}`;
  try {
    fs.renameSync(lockPath, stale);
  } catch {
    return; // someone else moved it first: the next attempt sees their lock
  }
  if (readHolder(stale) !== deadHolder) {
    try {
      fs.linkSync(stale, lockPath);
    } catch {
      // A newer lock is already in place.
    }
  }
  fs.rmSync(stale, { force: true });
}
