// The speed layer's parse threads: a piscina pool running the batch layer's parser on a micro-batch's files, split
// into one task per thread by bytes, so the main thread only lists, logs, routes and publishes; and the files to look
// through for late rows, in one task.

import { Piscina } from 'piscina';
import { type BadRowMode } from '../core/event-parser.js';
import { LambdaflowError } from '../core/errors.js';
import { type LoggedFiles } from '../io/logs/compactions.js';
import { type IngestEntry } from '../io/logs/ingest-log.js';
import { runTask } from '../io/threads/thread-rpc.js';
import { workerUrl } from '../io/threads/worker-url.js';
import { type LateRow } from '../io/logs/late-rows.js';
import type { LateRowsTask, StreamFileToParse, StreamParseTask } from '../messages.js';
import { type LateRowsRequest, type StreamParser } from './ports.js';
import { type StreamParse } from './stream-parse.js';

/** Consecutive runs of files of about equal bytes, at most `tasks` of them. */
export function splitByBytes<T extends { size: number }>(files: readonly T[], tasks: number): T[][] {
  const total = files.reduce((n, f) => n + f.size, 0);
  const target = total / Math.max(1, tasks);
  const chunks: T[][] = [];
  let chunk: T[] = [];
  let bytes = 0;
  for (const file of files) {
    chunk.push(file);
    bytes += file.size;
    if (bytes >= target * (chunks.length + 1) && chunks.length < tasks - 1) {
      chunks.push(chunk);
      chunk = [];
    }
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

export class StreamParserPool implements StreamParser {
  private readonly pool: Piscina;

  constructor(
    private readonly files: LoggedFiles,
    private readonly threads: number,
    private readonly partitions: number,
    private readonly mode: BadRowMode,
    private readonly bucketSeconds: number,
    /** With event-time windows: each file's purchases per slot of this many seconds come back too. */
    private readonly slideSeconds?: number,
  ) {
    this.pool = new Piscina({ filename: workerUrl('batch-worker').href, minThreads: threads, maxThreads: threads, idleTimeout: 60_000 });
  }

  async parse(entries: readonly IngestEntry[]): Promise<StreamParse[]> {
    const files: (StreamFileToParse & { size: number })[] = entries.map((entry) => {
      const location = this.files.locate(entry);
      return { seq: entry.seq, ...location, size: location.end - location.start };
    });
    const settled = await Promise.allSettled(
      splitByBytes(files, this.threads).map((chunk) => {
        const task: StreamParseTask = {
          files: chunk,
          partitions: this.partitions,
          mode: this.mode,
          bucketSeconds: this.bucketSeconds,
          ...(this.slideSeconds === undefined ? {} : { slideSeconds: this.slideSeconds }),
        };
        return runTask<StreamParse>(this.pool, task, { name: 'parseStream' });
      }),
    );
    return settled.map((outcome) => {
      if (outcome.status === 'fulfilled') return outcome.value;
      // A task's own error comes rebuilt; anything else is a crash of the thread.
      if (outcome.reason instanceof LambdaflowError) throw outcome.reason;
      throw new LambdaflowError('E_WORKER', `a parse thread failed: ${(outcome.reason as Error).message}`, {}, { cause: outcome.reason });
    });
  }

  async lateRows(requests: readonly LateRowsRequest[]): Promise<LateRow[][]> {
    const task: LateRowsTask = { files: requests.map(({ entry, threshold }) => ({ seq: entry.seq, ...this.files.locate(entry), threshold })) };
    try {
      return await runTask<LateRow[][]>(this.pool, task, { name: 'lateRows' });
    } catch (error) {
      if (error instanceof LambdaflowError) throw error;
      throw new LambdaflowError('E_WORKER', `a parse thread failed: ${(error as Error).message}`, {}, { cause: error });
    }
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}
