// Serving thread entry point: loads views off the hot path and writes the merged view's CSV (src/serving/view-loading.ts).

import { answerRequests } from '../src/io/thread-rpc.js';
import type { ServingRequest } from '../src/messages.js';
import { handleServingRequest } from '../src/serving/view-loading.js';

answerRequests<ServingRequest>(handleServingRequest, 'serving thread');
