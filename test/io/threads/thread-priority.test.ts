// Background threads run at a lower priority than the thread that starts them, which keeps its own.

import fs from 'node:fs';
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { BACKGROUND_NICE } from '../../../src/io/threads/thread-priority.js';

const BUILT = new URL('../../../dist/src/io/threads/thread-priority.js', import.meta.url).href;

/** This thread's own nice value (Linux: per thread, by its id in /proc/thread-self); undefined elsewhere. */
function niceHere(): number | undefined {
  try {
    return os.getPriority(Number(fs.readlinkSync('/proc/thread-self').split('/').pop()));
  } catch {
    return undefined;
  }
}

/** The nice value a new thread reports after runInBackground (the built module: a worker runs JavaScript). */
function niceOfBackgroundThread(): Promise<number | undefined> {
  // The same reading as niceHere, in the worker's own JavaScript.
  const code = `const { parentPort } = require('node:worker_threads');
    const niceHere = () => require('node:os').getPriority(Number(require('node:fs').readlinkSync('/proc/thread-self').split('/').pop()));
    import(${JSON.stringify(BUILT)}).then((m) => { m.runInBackground(); parentPort.postMessage(niceHere()); });`;
  const worker = new Worker(code, { eval: true });
  return new Promise<number | undefined>((resolve, reject) => {
    worker.once('message', (nice: number) => resolve(nice));
    worker.once('error', reject);
  }).finally(() => void worker.terminate());
}

describe('runInBackground', () => {
  it.skipIf(niceHere() === undefined)('lowers only the calling thread', async () => {
    const before = niceHere()!;
    expect(await niceOfBackgroundThread()).toBe(Math.max(before, BACKGROUND_NICE));
    expect(niceHere()).toBe(before);
  });
});
