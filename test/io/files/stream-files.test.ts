// Finding new stream files: by watcher hints while stream_input/ is small, by listing it every micro-batch while it
// holds many files (chokidar reads the whole folder again, an lstat per entry, on every change), and back.

import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { StreamFiles } from '../../../src/io/files/stream-files.js';
import { silentLogger } from '../../../src/io/runtime/logger.js';
import { systemClock } from '../../../src/io/runtime/system-clock.js';
import { tempRoots } from '../../helpers/temp-dirs.js';

const tempRoot = tempRoots();
const opened: StreamFiles[] = [];
afterEach(async () => {
  for (const files of opened.splice(0)) await files.close();
});

/** A complete stream file, renamed into place as producers do, with an mtime old enough to need no settle check. */
function land(dir: string, name: string): void {
  const temp = path.join(dir, `.${name}.tmp`);
  fs.writeFileSync(temp, 'u1,purchase,1.00,1\n');
  const past = new Date(Date.now() - 60_000);
  fs.utimesSync(temp, past, past);
  fs.renameSync(temp, path.join(dir, name));
}

function streamFiles(dir: string, logged: readonly string[] = []): StreamFiles {
  // A full listing only once an hour: between two, new files are found by hints or by the folder being large.
  const files = new StreamFiles({ dir, clock: systemClock, logger: silentLogger, listEveryMs: 3_600_000 }, logged);
  opened.push(files);
  return files;
}

/** newFiles until it reports something (hints arrive asynchronously), at most ~5 s. */
async function nextNames(files: StreamFiles): Promise<string[]> {
  for (let i = 0; i < 250; i++) {
    const found = await files.newFiles(Date.now(), false);
    if (found.length > 0) return found.map((f) => f.name);
    await delay(20);
  }
  return [];
}

describe('StreamFiles', () => {
  it('watches a small folder and finds a new file by its hint, between full listings', async () => {
    const dir = tempRoot().data;
    land(dir, 'a.csv');
    const files = streamFiles(dir);
    files.watch();
    expect((await files.newFiles(Date.now(), false)).map((f) => f.name)).toEqual(['a.csv']);
    expect(files.watching).toBe(true);
    files.logged(['a.csv']);
    land(dir, 'b.csv');
    expect(await nextNames(files)).toEqual(['b.csv']);
  });

  it('stops watching a folder of many files, lists it every call instead (finding each new file at once), and watches again once it is small', async () => {
    const dir = tempRoot().data;
    const many = Array.from({ length: 600 }, (_, i) => `old-${String(i).padStart(4, '0')}.csv`);
    for (const name of many) land(dir, name);
    const files = streamFiles(dir, many);
    files.watch();
    expect(await files.newFiles(Date.now(), false)).toEqual([]);
    expect(files.watching).toBe(false);
    for (let i = 0; i < 3; i++) {
      land(dir, `new-${i}.csv`);
      // The very next call, no hint needed.
      expect((await files.newFiles(Date.now(), false)).map((f) => f.name)).toEqual([`new-${i}.csv`]);
      files.logged([`new-${i}.csv`]);
    }
    // A compaction moved the logged files away.
    for (const name of [...many, 'new-0.csv', 'new-1.csv', 'new-2.csv']) fs.rmSync(path.join(dir, name));
    files.forget(many);
    expect(await files.newFiles(Date.now(), false)).toEqual([]);
    expect(files.watching).toBe(true);
    land(dir, 'late.csv');
    expect(await nextNames(files)).toEqual(['late.csv']);
  });
});
