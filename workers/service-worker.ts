// Serving service thread entry point: `serve` runs here, with a bounded young generation (src/pipeline/serve-thread.ts).

import { workerData } from 'node:worker_threads';
import { answerRequests } from '../src/io/threads/thread-rpc.js';
import { type ServiceRequest, type ServiceStart, serviceThreadHandler } from '../src/pipeline/serving.js';

// No name prefixed to its errors: they are the `serve` command's own (a port in use, a data folder that cannot be read).
answerRequests<ServiceRequest>(serviceThreadHandler(workerData as ServiceStart));
