// Speed worker entry point: owns one hash partition of users — its sliding window and its part of the realtime view.

import { parentPort, workerData } from 'node:worker_threads';
import { serializeError } from '../src/core/errors.js';
import { DeltaFiles } from '../src/io/deltas.js';
import { ownedBytes } from '../src/io/thread-rpc.js';
import type { SpeedReply, SpeedRequest, SpeedWorkerInit } from '../src/messages.js';
import { PartitionState } from '../src/speed/partition-state.js';

const init = workerData as SpeedWorkerInit;
const state = new PartitionState(init.partition, init.partitions, init.slidesPerWindow);
const deltas = new DeltaFiles(init.deltasDir);
const port = parentPort!;

function reply(message: SpeedReply, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

port.on('message', (request: SpeedRequest) => {
  try {
    switch (request.type) {
      case 'add':
        state.add(request.block, request.slide, request.realtime);
        break;
      case 'window': {
        const window = state.windowBefore(request.slide);
        const bytes = ownedBytes(window.bytes);
        reply({ type: 'window', requestId: request.requestId, bytes, users: window.users }, [bytes.buffer]);
        break;
      }
      case 'deltas': {
        const found = state.applyDeltas((accept) => deltas.forEachLine(request.afterSeq, request.throughSeq, accept), request.sign);
        reply({ type: 'deltas', requestId: request.requestId, found: [...found] });
        break;
      }
      case 'load':
        state.loadView(request.parts, request.name);
        break;
      case 'clear':
        state.clearRealtime();
        break;
      case 'realtime': {
        const view = state.realtimeView();
        const bytes = ownedBytes(view.bytes);
        reply({ type: 'realtime', requestId: request.requestId, bytes, users: view.users }, [bytes.buffer]);
        break;
      }
    }
  } catch (error) {
    reply({ type: 'error', error: serializeError(error, 'E_WORKER', `speed worker ${init.partition}: `) });
  }
});
reply({ type: 'ready' });
