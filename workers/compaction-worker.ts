// Compaction thread entry point: runs one compaction of the data folder (src/batch/compaction.ts) per request.

import { compactMasterDataset } from '../src/batch/compaction.js';
import { dataLayout } from '../src/io/layout.js';
import { createLogger } from '../src/io/logger.js';
import { systemClock } from '../src/io/system-clock.js';
import { answerRequests } from '../src/io/thread-rpc.js';
import { runInBackground } from '../src/io/thread-priority.js';
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
