// Merge worker entry point: runs the serving layer's merge loop on its own thread, so merging a large view never
// delays the speed layer's micro-batches on the main thread.

import { parentPort, workerData } from 'node:worker_threads';
import { serializeError } from '../src/core/errors.js';
import { dataLayout } from '../src/io/layout.js';
import { createLogger } from '../src/io/logger.js';
import { systemClock } from '../src/io/system-clock.js';
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
  clock: systemClock,
  signal: stop.signal,
  intervalMs: init.intervalMs,
  view: init.view,
  onMerged: (result, mergedAtMs) => reply({ type: 'merged', result, mergedAtMs }),
}).then(
  () => reply({ type: 'stopped' }),
  (error: unknown) => reply({ type: 'error', error: serializeError(error, 'E_WORKER', 'merge thread failed: ') }),
);
