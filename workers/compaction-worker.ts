// Compaction thread entry point: runs one compaction of the data folder (src/batch/compaction.ts) per request.

import { compactMasterDataset } from '../src/batch/compaction.js';
import { dataLayout } from '../src/io/files/layout.js';
import { createLogger } from '../src/io/runtime/logger.js';
import { systemClock } from '../src/io/runtime/system-clock.js';
import { answerRequests } from '../src/io/threads/thread-rpc.js';
import { runInBackground } from '../src/io/threads/thread-priority.js';
import type { CompactionRequest } from '../src/messages.js';

runInBackground();
answerRequests<CompactionRequest>(async (request) => {
  const result = await compactMasterDataset({
    layout: dataLayout(request.dataRoot),
    logger: createLogger(request.logLevel),
    clock: systemClock,
    targetBytes: request.targetBytes,
    minAgeMs: request.minAgeMs,
  });
  return { result };
}, 'compaction thread');
