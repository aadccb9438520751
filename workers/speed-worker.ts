// Speed worker entry point: owns one hash partition of users and its sliding window of per-slide aggregates.

import { parentPort, workerData } from 'node:worker_threads';
import { blockTransferList } from '../src/core/agg-table.js';
import { serializeError } from '../src/core/errors.js';
import { SlidingWindow } from '../src/core/window.js';
import type { SpeedReply, SpeedRequest, SpeedWorkerInit } from '../src/messages.js';

const init = workerData as SpeedWorkerInit;
const window = new SlidingWindow(init.slidesPerWindow);
const port = parentPort!;

function reply(message: SpeedReply, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

port.on('message', (request: SpeedRequest) => {
  try {
    if (request.type === 'add') {
      window.add(request.slide, request.block);
    } else {
      const block = window.windowBefore(request.slide).toBlock();
      reply({ type: 'window', requestId: request.requestId, block }, blockTransferList(block));
    }
  } catch (error) {
    reply({ type: 'error', error: serializeError(error, 'E_WORKER', `speed worker ${init.partition}: `) });
  }
});
reply({ type: 'ready' });
