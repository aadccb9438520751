// The serving layer's threads: each request to read views off the hot path runs on a thread started for it
// (src/serving/view-loading.ts), so its garbage (the files and columns it read through) goes with the thread instead
// of waiting for a collection an idle thread never runs.

import { ThreadClient } from '../io/threads/thread-rpc.js';
import { workerUrl } from '../io/threads/worker-url.js';
import type { ServingRequest } from '../messages.js';

/**
 * A serving thread's garbage is a few large buffers, not many small objects: a small young generation keeps its heap
 * at ~9 MB instead of ~15 MB while it loads a view beside the one it replaces (measured; loads take as long).
 */
const SERVING_THREAD_LIMITS = { maxYoungGenerationSizeMb: 3 };

export class ServingThreads {
  /** Threads answering a request now (close stops them). */
  private readonly running = new Set<ThreadClient<ServingRequest>>();

  /** Runs one request on a thread of its own, which ends with it. */
  async request<Result>(request: ServingRequest, transfer: ArrayBuffer[] = []): Promise<Result> {
    const thread = ThreadClient.start<ServingRequest>(workerUrl('serving-worker'), 'serving thread', SERVING_THREAD_LIMITS);
    this.running.add(thread);
    try {
      return await thread.request<Result>(request, transfer);
    } finally {
      this.running.delete(thread);
      await thread.close();
    }
  }

  /** Stops the threads running: their requests end with an error, applying nothing. */
  async close(): Promise<void> {
    await Promise.all([...this.running].map((thread) => thread.close()));
  }
}
