// `serve` on a thread of its own: the only way Node lets a process bound a heap's young generation (resourceLimits
// exist for workers, and `node --max-semi-space-size` is a flag `node dist/main.js` cannot give itself). A busy HTTP
// server grows its young generation to 32 MB of semi-spaces; bounded to 4 MB, `serve` peaked 30–50 MB lower at 810 k
// users in bench/serving.ts, with the same lookup p99 (more, shorter scavenges). The main thread only starts it,
// without loading the service's modules, asks it to listen, prints, and asks it to serve until stop cancels that
// request; serviceThreadHandler (src/pipeline/serving.ts) is the thread's side.

import { ThreadClient } from '../io/threads/thread-rpc.js';
import { workerUrl } from '../io/threads/worker-url.js';
import { type CommandContext } from './context.js';
import type { ServeOptions, ServiceRequest, ServiceStart } from './serving.js';

/** Young generation of the service thread: two 2 MB semi-spaces and their large-object room (measured in bench/serving.ts). */
const SERVICE_LIMITS = { maxYoungGenerationSizeMb: 6 };

/** Runs the serving service on its own thread until `context.signal` aborts; `onListening` gets its address. */
export async function serveOnThread(context: CommandContext, options: ServeOptions, onListening: (url: string) => void): Promise<void> {
  const start: ServiceStart = { global: context.global, options };
  const thread = ThreadClient.start<ServiceRequest>(workerUrl('service-worker'), 'serving service thread', SERVICE_LIMITS, start);
  try {
    const url = await thread.request<string | null>({ type: 'listen' });
    if (url !== null) onListening(url);
    await thread.request<void>({ type: 'serve' }, [], context.signal);
  } finally {
    // The thread ends by itself, so the log lines it wrote last are not lost.
    await thread.finish();
  }
}
