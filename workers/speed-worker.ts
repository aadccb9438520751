// Speed worker entry point: owns one hash partition of users — its sliding window and its part of the realtime view.

import { workerData } from 'node:worker_threads';
import { DeltaFiles } from '../src/io/views/deltas.js';
import { type Answer, NO_RESULT, answerRequests, ownedBytes } from '../src/io/threads/thread-rpc.js';
import type { PartitionLines, SpeedRequest, SpeedWorkerInit } from '../src/messages.js';
import { PartitionState } from '../src/speed/partition-state.js';

const init = workerData as SpeedWorkerInit;
const state = new PartitionState(init.partition, init.partitions, init.slidesPerWindow, init.bucketSeconds);
const deltas = new DeltaFiles(init.deltasDir, init.bucketSeconds);

/** View lines answered with their buffer moved. */
function moved(lines: PartitionLines): Answer<PartitionLines> {
  const bytes = ownedBytes(lines.bytes);
  return { result: { bytes, users: lines.users }, transfer: [bytes.buffer] };
}

answerRequests<SpeedRequest>((request) => {
  switch (request.type) {
    case 'add':
      state.add(request.block, request.slide, request.realtime);
      return NO_RESULT;
    case 'window':
      return moved(state.windowBefore(request.slide));
    case 'deltas':
      return { result: [...state.applyDeltas((accept) => deltas.forEachLine(request.afterSeq, request.throughSeq, accept), request.sign)] };
    case 'load':
      state.loadView(request.parts, request.name);
      return NO_RESULT;
    case 'clear':
      state.clearRealtime();
      return NO_RESULT;
    case 'realtime':
      return moved(state.realtimeView());
  }
}, `speed worker ${init.partition}`);
