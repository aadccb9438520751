// Merge worker entry point: runs the serving layer's merge loop on its own thread, so merging a large view never
// delays the speed layer's micro-batches on the main thread.

import { parentPort, workerData } from 'node:worker_threads';
import { dataLayout } from '../src/io/layout.js';
import { createLogger } from '../src/io/logger.js';
import { mergeLoop } from '../src/serving/merge-loop.js';
import type { MergeThreadInit, MergeThreadReply, MergeThreadRequest } from '../src/messages.js';

const init = workerData as MergeThreadInit;
const port = parentPort!;
const stop = new AbortController();
port.on('message', (request: MergeThreadRequest) => {
  if (request.type === 'stop') stop.abort();
});

const reply = (message: MergeThreadReply): void => port.postMessage(message);
const logger = createLogger(init.logLevel, (line) => reply({ type: 'log', line }));
mergeLoop({
  layout: dataLayout(init.dataRoot),
  logger,
  signal: stop.signal,
  intervalMs: init.intervalMs,
  view: init.view,
  onMerged: (result, mergedAtMs) => reply({ type: 'merged', result, mergedAtMs }),
}).then(
  () => reply({ type: 'stopped' }),
  (error: unknown) => reply({ type: 'error', message: error instanceof Error ? error.message : String(error), code: (error as { code?: string }).code }),
);
