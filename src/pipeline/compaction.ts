// Compaction as the pipeline runs it: `compact` in this thread, `all --compact-every` on a thread of its own.

import { type CompactionConfig, type CompactionResult, compactMasterDataset } from '../batch/compaction.js';
import { type LogLevel } from '../core/log-levels.js';
import { ThreadClient } from '../io/threads/thread-rpc.js';
import { workerUrl } from '../io/threads/worker-url.js';
import type { CompactionRequest } from '../messages.js';
import { type LayerEnvironment } from './layer-config.js';

export interface CompactOptions {
  /** Compacted files grow to about this many bytes. */
  readonly targetBytes: number;
  /** Only stream files ingested at least this long ago (they have left the speed layer's window). */
  readonly minAgeMs: number;
}

/** One compaction in this thread; `onStep` sees each step boundary (crash tests stop the process there), `onProgress` the bytes moved. */
export function compactNow(
  environment: LayerEnvironment,
  options: CompactOptions,
  hooks: Pick<CompactionConfig, 'onStep' | 'onProgress'> = {},
): Promise<CompactionResult> {
  return compactMasterDataset({ layout: environment.layout, logger: environment.logger, clock: environment.clock, ...options, ...hooks });
}

/** One compaction on a thread of its own, so the event loop keeps serving and ingesting meanwhile. */
export async function compactOnThread(environment: LayerEnvironment, options: CompactOptions, logLevel: LogLevel): Promise<CompactionResult> {
  const thread = ThreadClient.start<CompactionRequest>(workerUrl('compaction-worker'), 'compaction thread');
  try {
    return await thread.request<CompactionResult>({ dataRoot: environment.layout.root, ...options, logLevel });
  } finally {
    await thread.close();
  }
}
