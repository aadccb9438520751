// The speed layer's dedicated worker threads: one per partition, each owning its users' sliding window.

import { Worker } from 'node:worker_threads';
import { type AggBlock, blockTransferList } from '../core/agg-table.js';
import { LambdaflowError, deserializeError } from '../core/errors.js';
import { workerUrl } from '../io/worker-url.js';
import type { SpeedReply, SpeedRequest, SpeedWorkerInit } from '../messages.js';
import { type SlideStore } from './ports.js';

export class SpeedWorkers implements SlideStore {
  private nextRequestId = 0;
  private readonly pending = new Map<number, { resolve: (block: AggBlock) => void; reject: (error: Error) => void }>();
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

  static async start(partitions: number, slidesPerWindow: number): Promise<SpeedWorkers> {
    const workers = Array.from({ length: partitions }, (_, partition) => {
      const init: SpeedWorkerInit = { partition, slidesPerWindow };
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
    else if (reply.type === 'window') {
      this.pending.get(reply.requestId)?.resolve(reply.block);
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

  /** Sends each partition its block for slide `slide` (blocks[p] goes to worker p). */
  add(slide: number, blocks: readonly AggBlock[]): void {
    blocks.forEach((block, partition) => {
      if (block.counts.length > 0) this.send(partition, { type: 'add', slide, block }, blockTransferList(block));
    });
  }

  /** Every partition's window of the slides before `slide`. */
  windows(slide: number): Promise<AggBlock[]> {
    return Promise.all(
      this.workers.map(
        (_, partition) =>
          new Promise<AggBlock>((resolve, reject) => {
            const requestId = this.nextRequestId++;
            this.pending.set(requestId, { resolve, reject });
            try {
              this.send(partition, { type: 'window', slide, requestId });
            } catch (error) {
              this.pending.delete(requestId);
              reject(error as Error);
            }
          }),
      ),
    );
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.workers.map((worker) => worker.terminate()));
  }
}
