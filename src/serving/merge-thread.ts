// Runs the merge loop on a worker thread (used by `all` and the benchmarks) with the same contract as mergeLoop.

import { Worker } from 'node:worker_threads';
import { LambdaflowError, deserializeError } from '../core/errors.js';
import { type LogLevel } from '../io/logger.js';
import { workerUrl } from '../io/worker-url.js';
import type { MergeThreadInit, MergeThreadReply, MergeThreadRequest } from '../messages.js';
import { type MergeLoopConfig } from './merge-loop.js';

/** Like mergeLoop, on its own thread (with the system clock): resolves after the final merge that follows the stop signal. */
export function mergeLoopOnThread(config: Omit<MergeLoopConfig, 'clock'> & { readonly logLevel: LogLevel }): Promise<void> {
  const init: MergeThreadInit = { dataRoot: config.layout.root, intervalMs: config.intervalMs, view: config.view, logLevel: config.logLevel };
  const worker = new Worker(workerUrl('merge-worker'), { workerData: init });
  const stop = (): void => worker.postMessage({ type: 'stop' } satisfies MergeThreadRequest);
  if (config.signal.aborted) stop();
  else config.signal.addEventListener('abort', stop, { once: true });
  return new Promise((resolve, reject) => {
    let failure: Error | undefined;
    worker.on('message', (message: MergeThreadReply) => {
      if (message.type === 'merged') config.onMerged?.(message.result, message.mergedAtMs);
      else if (message.type === 'log') process.stderr.write(message.line);
      else {
        if (message.type === 'error') failure = deserializeError(message.error);
        void worker.terminate(); // its message port would otherwise keep it (and this promise) alive
      }
    });
    worker.on('error', (error) => (failure ??= new LambdaflowError('E_WORKER', `merge thread crashed: ${error.message}`, {}, { cause: error })));
    worker.on('exit', () => {
      config.signal.removeEventListener('abort', stop);
      if (failure) reject(failure);
      else resolve();
    });
  });
}
