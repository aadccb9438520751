// Background threads run at a lower priority than the thread that starts them, which keeps its own.

import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { BACKGROUND_NICE, threadNice } from '../../src/io/thread-priority.js';

const BUILT = new URL('../../dist/src/io/thread-priority.js', import.meta.url).href;

/** The nice value a new thread reports after runInBackground (the built module: a worker runs JavaScript). */
function niceOfBackgroundThread(): Promise<number | undefined> {
  const code = `const { parentPort } = require('node:worker_threads');
    import(${JSON.stringify(BUILT)}).then((m) => { m.runInBackground(); parentPort.postMessage(m.threadNice() ?? null); });`;
  const worker = new Worker(code, { eval: true });
  return new Promise((resolve, reject) => {
    worker.once('message', (nice: number | null) => resolve(nice ?? undefined));
    worker.once('error', reject);
  }).finally(() => worker.terminate()) as Promise<number | undefined>;
}

describe('runInBackground', () => {
  it.skipIf(threadNice() === undefined)('lowers only the calling thread', async () => {
    const before = threadNice()!;
    expect(await niceOfBackgroundThread()).toBe(Math.max(before, BACKGROUND_NICE));
    expect(threadNice()).toBe(before);
  });
});
