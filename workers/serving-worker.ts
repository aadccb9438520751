// Serving thread entry point: loads views off the hot path, or keeps a replica of the store and writes the merged
// view's CSV from it (src/serving/view-loading.ts).

import { answerRequests } from '../src/io/thread-rpc.js';
import type { ServingRequest } from '../src/messages.js';
import { systemClock } from '../src/io/system-clock.js';
import { servingRequestHandler } from '../src/serving/view-loading.js';
import { runInBackground } from '../src/io/thread-priority.js';

// Loading views and writing CSVs must not take a core from the thread answering lookups.
runInBackground();

answerRequests<ServingRequest>(servingRequestHandler(systemClock), 'serving thread');
