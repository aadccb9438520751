// The pid lock: held by this very process means held (another thread of it asking is refused); a dead process's
// lock, even one that had our pid (a container restarted as pid 1), is taken over.

import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { acquireLock } from '../../../src/io/files/lock.js';
import { tempRoots } from '../../helpers/temp-dirs.js';

const tempRoot = tempRoots();

it("regression: a second acquire by the same process is E_LOCKED (compaction inside `all` took the speed layer's lock and folded the log under it, losing entries)", () => {
  const lockPath = path.join(tempRoot().data, 'speed.lock');
  const lock = acquireLock(lockPath, 'speed layer');
  expect(() => acquireLock(lockPath, 'speed layer')).toThrow(/E_LOCKED|another speed layer \(this process\)/);
  try {
    acquireLock(lockPath, 'speed layer');
  } catch (error) {
    expect((error as { code?: string }).code).toBe('E_LOCKED');
  }
  lock.release();
  expect(fs.existsSync(lockPath)).toBe(false);
  acquireLock(lockPath, 'speed layer').release();
});

it.each([
  { name: 'a dead pid', content: '4194305 1000\n' },
  { name: 'a dead pid without a start time (an older lock)', content: '4194305\n' },
  { name: 'our pid with another start time (a restarted container)', content: `${process.pid} 1000\n` },
])('takes over the lock of $name', ({ content }) => {
  const lockPath = path.join(tempRoot().data, 'speed.lock');
  fs.writeFileSync(lockPath, content);
  const lock = acquireLock(lockPath, 'speed layer');
  expect(fs.readFileSync(lockPath, 'utf8').split(/\s+/)[0]).toBe(String(process.pid));
  expect(fs.readFileSync(lockPath, 'utf8')).not.toBe(content);
  lock.release();
});
