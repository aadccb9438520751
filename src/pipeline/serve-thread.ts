// `serve` on a thread of its own: the only way Node lets a process bound a heap's young generation (resourceLimits
// exist for workers, and `node --max-semi-space-size` is a flag `node dist/main.js` cannot give itself). A busy HTTP
// server grows its young generation to 32 MB of semi-spaces; bounded to 4 MB, `serve` peaked 30–50 MB lower at 810 k
// users in bench/serving.ts, with the same lookup p99 (more, shorter scavenges). The main thread only starts it,
// without loading the service's modules, prints and forwards stop; runServiceThread (src/pipeline/serving.ts) is the
// thread's side.

import { Worker } from 'node:worker_threads';
import { LambdaflowError, deserializeError } from '../core/errors.js';
import { workerUrl } from '../io/worker-url.js';
import { type CommandContext } from './context.js';
import type { ServeOptions, ServiceMessage, ServiceStart } from './serving.js';

/** Young generation of the service thread: two 2 MB semi-spaces and their large-object room (measured in bench/serving.ts). */
const SERVICE_LIMITS = { maxYoungGenerationSizeMb: 6 };

/** Runs the serving service on its own thread until `context.signal` aborts; `onListening` gets its address. */
export function serveOnThread(context: CommandContext, options: ServeOptions, onListening: (url: string) => void): Promise<void> {
  const worker = new Worker(workerUrl('service-worker'), { workerData: { global: context.global, options } satisfies ServiceStart, resourceLimits: SERVICE_LIMITS });
  const stop = (): void => worker.postMessage('stop');
  context.signal.addEventListener('abort', stop, { once: true });
  if (context.signal.aborted) stop();
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    const settle = (error?: Error): void => {
      if (settled) return;
      settled = true;
      context.signal.removeEventListener('abort', stop);
      if (error) reject(error);
      else resolve();
    };
    worker.on('message', (message: ServiceMessage) => {
      if (message.type === 'listening') onListening(message.url);
      else settle(message.type === 'failed' ? deserializeError(message.error) : undefined);
    });
    worker.on('error', (error) => settle(new LambdaflowError('E_WORKER', `serving service thread crashed: ${error.message}`, {}, { cause: error })));
    worker.on('exit', (code) => settle(new LambdaflowError('E_WORKER', `serving service thread exited with code ${code} before it stopped`)));
  });
}
