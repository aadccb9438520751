// Serving service thread entry point: `serve` runs here, with a bounded young generation (src/pipeline/serve-thread.ts).

import { runServiceThread } from '../src/pipeline/serving.js';

await runServiceThread();
