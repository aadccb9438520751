// Requests to a worker thread and its replies: request ids, moved buffers, and errors rebuilt with their codes.

import { type ResourceLimits, Worker, parentPort } from 'node:worker_threads';
import { LambdaflowError, type SerializedError, deserializeError, serializeError } from '../core/errors.js';

type Envelope<T> = { readonly id: number; readonly request: T };
type Reply = { readonly id: number; readonly result: unknown } | { readonly id: number; readonly error: SerializedError };

/** What a handler returns: the result and the buffers to move rather than copy. */
export interface Answer<T> {
  readonly result: T;
  readonly transfer?: readonly ArrayBuffer[];
}

export class ThreadClient<Request> {
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  private failure: LambdaflowError | undefined;
  private closing = false;

  private constructor(
    private readonly worker: Worker,
    private readonly name: string,
  ) {
    worker.on('message', (reply: Reply) => {
      const waiter = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if ('error' in reply) waiter?.reject(deserializeError(reply.error));
      else waiter?.resolve(reply.result);
    });
    worker.on('error', (error) => this.fail(new LambdaflowError('E_WORKER', `${name} crashed: ${error.message}`, {}, { cause: error })));
    worker.on('exit', (code) => {
      if (!this.closing) this.fail(new LambdaflowError('E_WORKER', `${name} exited with code ${code}`));
    });
  }

  static start<Request>(url: URL, name: string, limits?: ResourceLimits): ThreadClient<Request> {
    return new ThreadClient<Request>(new Worker(url, { resourceLimits: limits }), name);
  }

  private fail(error: LambdaflowError): void {
    this.failure ??= error;
    for (const { reject } of this.pending.values()) reject(error);
    this.pending.clear();
  }

  /** Sends a request (moving `transfer`) and resolves with the worker's result, or rejects with its error. */
  request<Result>(request: Request, transfer: readonly ArrayBuffer[] = []): Promise<Result> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise<Result>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.worker.postMessage({ id, request } satisfies Envelope<Request>, [...transfer]);
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    this.fail(new LambdaflowError('E_WORKER', `${this.name} was closed`));
    await this.worker.terminate();
  }
}

/** The worker side: answers each request with its handler, one at a time in arrival order. */
export function answerRequests<Request>(handle: (request: Request) => Promise<Answer<unknown>>, what: string): void {
  const port = parentPort!;
  let queue = Promise.resolve();
  port.on('message', ({ id, request }: Envelope<Request>) => {
    queue = queue.then(async () => {
      try {
        const { result, transfer = [] } = await handle(request);
        port.postMessage({ id, result } satisfies Reply, [...transfer]);
      } catch (error) {
        port.postMessage({ id, error: serializeError(error, 'E_WORKER', `${what}: `) } satisfies Reply);
      }
    });
  });
}

/**
 * Bytes whose whole ArrayBuffer they own, so it can be moved to another thread. Small Buffers share Node's pool:
 * moving that would take it from everything else allocated there, so those are copied.
 */
export function ownedBytes(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer) return bytes as Uint8Array<ArrayBuffer>;
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return copy;
}
