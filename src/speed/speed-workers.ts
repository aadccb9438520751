// The speed layer's dedicated worker threads: one per partition, each owning its users' sliding window and their
// part of the realtime view.

import { Worker } from 'node:worker_threads';
import { type AggBlock, blockTransferList } from '../core/agg-table.js';
import { type DeltaRange } from '../core/exact-merge.js';
import { LambdaflowError, deserializeError } from '../core/errors.js';
import { workerUrl } from '../io/worker-url.js';
import type { SpeedReply, SpeedRequest, SpeedWorkerInit } from '../messages.js';
import { type PartitionStore } from './ports.js';

type Waiter = { resolve: (reply: SpeedReply) => void; reject: (error: Error) => void };

export class SpeedWorkers implements PartitionStore {
  private nextRequestId = 0;
  private readonly pending = new Map<number, Waiter>();
  private failure: Error | undefined;
  private stopping = false;

  private constructor(private readonly workers: readonly Worker[]) {
    workers.forEach((worker) => {
      worker.on('message', (reply: SpeedReply) => this.onReply(reply));
      worker.on('error', (error) => this.fail(new LambdaflowError('E_WORKER', `speed worker crashed: ${error.message}`, {}, { cause: error })));
      worker.on('exit', (code) => {
        if (code !== 0 && !this.stopping) this.fail(new LambdaflowError('E_WORKER', `speed worker exited with code ${code}`));
      });
    });
  }

  static async start(partitions: number, slidesPerWindow: number, deltasDir: string): Promise<SpeedWorkers> {
    const workers = Array.from({ length: partitions }, (_, partition) => {
      const init: SpeedWorkerInit = { partition, partitions, slidesPerWindow, deltasDir };
      return new Worker(workerUrl('speed-worker'), { workerData: init });
    });
    try {
      await Promise.all(
        workers.map(
          (worker) =>
            new Promise<void>((resolve, reject) => {
              worker.once('message', (reply: SpeedReply) => (reply.type === 'ready' ? resolve() : reject(new Error('it did not report ready'))));
              worker.once('error', reject);
              worker.once('exit', (code) => reject(new Error(`it exited with code ${code}`)));
            }),
        ),
      );
    } catch (error) {
      await Promise.all(workers.map((worker) => worker.terminate()));
      throw new LambdaflowError('E_WORKER', `a speed worker failed to start: ${(error as Error).message}`, {}, { cause: error });
    }
    return new SpeedWorkers(workers);
  }

  get partitions(): number {
    return this.workers.length;
  }

  private onReply(reply: SpeedReply): void {
    if (reply.type === 'error') this.fail(deserializeError(reply.error));
    else if ('requestId' in reply) {
      this.pending.get(reply.requestId)?.resolve(reply);
      this.pending.delete(reply.requestId);
    }
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const { reject } of this.pending.values()) reject(error);
    this.pending.clear();
  }

  private send(partition: number, request: SpeedRequest, transfer: ArrayBuffer[] = []): void {
    if (this.failure) throw this.failure;
    this.workers[partition]!.postMessage(request, transfer);
  }

  /** Sends every partition a request and collects their replies, in partition order. */
  private askAll<T extends SpeedReply>(request: (requestId: number) => SpeedRequest): Promise<T[]> {
    return Promise.all(
      this.workers.map(
        (_, partition) =>
          new Promise<T>((resolve, reject) => {
            const requestId = this.nextRequestId++;
            this.pending.set(requestId, { resolve: resolve as (reply: SpeedReply) => void, reject });
            try {
              this.send(partition, request(requestId));
            } catch (error) {
              this.pending.delete(requestId);
              reject(error as Error);
            }
          }),
      ),
    );
  }

  add(blocks: readonly AggBlock[], slide: number | null, realtime: boolean): void {
    blocks.forEach((block, partition) => {
      if (block.counts.length > 0) this.send(partition, { type: 'add', slide, realtime, block }, blockTransferList(block));
    });
  }

  async windows(slide: number): Promise<{ bytes: Uint8Array; users: number }[]> {
    const replies = await this.askAll<Extract<SpeedReply, { type: 'window' }>>((requestId) => ({ type: 'window', slide, requestId }));
    return replies.map(({ bytes, users }) => ({ bytes, users }));
  }

  async applyDeltas(range: DeltaRange): Promise<ReadonlySet<number>> {
    const replies = await this.askAll<Extract<SpeedReply, { type: 'deltas' }>>((requestId) => ({ type: 'deltas', ...range, requestId }));
    // Every partition reads the same files; a seq counts as found only when all of them found it.
    const sets = replies.map((reply) => new Set(reply.found));
    return new Set([...sets[0]!].filter((seq) => sets.every((set) => set.has(seq))));
  }

  load(parts: readonly Uint8Array[], name: string): void {
    for (let partition = 0; partition < this.workers.length; partition++) this.send(partition, { type: 'load', parts, name });
  }

  clearRealtime(): void {
    for (let partition = 0; partition < this.workers.length; partition++) this.send(partition, { type: 'clear' });
  }

  async realtimeParts(): Promise<{ bytes: Uint8Array; users: number }[]> {
    const replies = await this.askAll<Extract<SpeedReply, { type: 'realtime' }>>((requestId) => ({ type: 'realtime', requestId }));
    return replies.map(({ bytes, users }) => ({ bytes, users }));
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.workers.map((worker) => worker.terminate()));
  }
}
