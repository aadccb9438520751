// The speed layer's dedicated worker threads: one per partition, each owning its users' sliding window and their
// part of the realtime view.

import { type AggBlock, blockTransferList } from '../core/agg-table.js';
import { type DeltaRange } from '../core/exact-merge.js';
import { LambdaflowError } from '../core/errors.js';
import { ThreadClient } from '../io/threads/thread-rpc.js';
import { workerUrl } from '../io/threads/worker-url.js';
import type { PartitionLines, SpeedRequest, SpeedWorkerInit } from '../messages.js';
import { type PartitionStore } from './ports.js';

export class SpeedWorkers implements PartitionStore {
  private constructor(private readonly threads: readonly ThreadClient<SpeedRequest>[]) {}

  static async start(partitions: number, slidesPerWindow: number, deltasDir: string, bucketSeconds: number): Promise<SpeedWorkers> {
    const threads = Array.from({ length: partitions }, (_, partition) => {
      const init: SpeedWorkerInit = { partition, partitions, slidesPerWindow, deltasDir, bucketSeconds };
      return ThreadClient.start<SpeedRequest>(workerUrl('speed-worker'), `speed worker ${partition}`, undefined, init);
    });
    try {
      await Promise.all(threads.map((thread) => thread.ready()));
    } catch (error) {
      await Promise.all(threads.map((thread) => thread.close()));
      throw new LambdaflowError('E_WORKER', `a speed worker failed to start: ${(error as Error).message}`, {}, { cause: error });
    }
    return new SpeedWorkers(threads);
  }

  get partitions(): number {
    return this.threads.length;
  }

  /** Asks every partition and collects their answers, in partition order. */
  private askAll<Result>(request: SpeedRequest): Promise<Result[]> {
    return Promise.all(this.threads.map((thread) => thread.request<Result>(request)));
  }

  add(blocks: readonly AggBlock[], slide: number | null, realtime: boolean): void {
    blocks.forEach((block, partition) => {
      if (block.counts.length > 0) this.threads[partition]!.notify({ type: 'add', slide, realtime, block }, blockTransferList(block));
    });
  }

  windows(slide: number): Promise<PartitionLines[]> {
    return this.askAll<PartitionLines>({ type: 'window', slide });
  }

  async applyDeltas(range: DeltaRange): Promise<ReadonlySet<number>> {
    const found = await this.askAll<readonly number[]>({ type: 'deltas', ...range });
    // Every partition reads the same files; a seq counts as found only when all of them found it.
    const sets = found.map((seqs) => new Set(seqs));
    return new Set([...sets[0]!].filter((seq) => sets.every((set) => set.has(seq))));
  }

  load(parts: readonly Uint8Array[], name: string): void {
    for (const thread of this.threads) thread.notify({ type: 'load', parts, name });
  }

  clearRealtime(): void {
    for (const thread of this.threads) thread.notify({ type: 'clear' });
  }

  realtimeParts(): Promise<PartitionLines[]> {
    return this.askAll<PartitionLines>({ type: 'realtime' });
  }

  async stop(): Promise<void> {
    await Promise.all(this.threads.map((thread) => thread.close()));
  }
}
