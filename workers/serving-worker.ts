// Serving thread entry point: loads a view off the hot path (src/serving/view-loading.ts); one request per thread.

import { answerRequests } from '../src/io/threads/thread-rpc.js';
import type { ServingRequest } from '../src/messages.js';
import { handleServingRequest } from '../src/serving/view-loading.js';
import { runInBackground } from '../src/io/threads/thread-priority.js';

// Loading views and writing CSVs must not take a core from the thread answering lookups.
runInBackground();

answerRequests<ServingRequest>(handleServingRequest, 'serving thread');
