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
  for (let attempt = 0; attempt < 2; attempt++) {
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
    const holder = Number(fs.readFileSync(lockPath, 'utf8').trim());
    if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) {
      throw new LambdaflowError('E_LOCKED', `another ${owner} (pid ${holder}) is running on this data folder (${lockPath})`, { file: lockPath });
    }
    fs.rmSync(lockPath, { force: true });
  }
  throw new LambdaflowError('E_LOCKED', `cannot take the lock ${lockPath}`, { file: lockPath });
}
