// The one request/response protocol between threads: requests with ids, notices kept in order with them, moved
// buffers, cancellation, and errors rebuilt with their code, context and cause; for long-lived Workers and piscina tasks.

import { type ResourceLimits, Worker, parentPort } from 'node:worker_threads';
import { type Piscina, move, transferableSymbol, valueSymbol } from 'piscina';
import { LambdaflowError, type SerializedError, deserializeError, serializeError } from '../../core/errors.js';

/** What a handler returns: the result and the buffers to move rather than copy. */
export interface Answer<T> {
  readonly result: T;
  readonly transfer?: readonly ArrayBuffer[];
}

/** An answer as it crosses back: the result, or the error as data (structured clone drops an error's code and context). */
export type Reply<T> = { readonly result: T } | { readonly error: SerializedError };

/**
 * Answers a request or a notice (whose result nobody reads), at once or later; `signal` aborts when the client
 * cancels the request (ThreadClient.request's `signal`).
 */
export type Handler<Request> = (request: Request, signal: AbortSignal) => Answer<unknown> | Promise<Answer<unknown>>;

/** The answer of a notice, or of a request answered with nothing: one object, not one per message. */
export const NO_RESULT: Answer<undefined> = Object.freeze({ result: undefined });

type ToThread<Request> =
  | { readonly kind: 'request'; readonly id: number; readonly request: Request; readonly cancellable: boolean }
  | { readonly kind: 'notice'; readonly request: Request }
  | { readonly kind: 'cancel'; readonly id: number }
  | { readonly kind: 'finish' };

/** The signal of a message the client cannot cancel. */
const NEVER_ABORTED = new AbortController().signal;

/** A message the handler answers. */
type Message<Request> = Extract<ToThread<Request>, { kind: 'request' | 'notice' }>;

type FromThread =
  | { readonly kind: 'ready' }
  | ({ readonly kind: 'reply'; readonly id: number } & Reply<unknown>)
  /** A notice failed: nobody waits for it, so the thread has failed. */
  | { readonly kind: 'failed'; readonly error: SerializedError };

interface Waiter {
  readonly resolve: (result: unknown) => void;
  readonly reject: (error: Error) => void;
}

/** The result a reply carries, or its error rebuilt. */
export function resultOf<T>(reply: Reply<T>): T {
  if ('error' in reply) throw deserializeError(reply.error);
  return reply.result;
}

/** The main side of one Worker running answerRequests. */
export class ThreadClient<Request> {
  private nextId = 0;
  private readonly pending = new Map<number, Waiter>();
  private failure: LambdaflowError | undefined;
  private closing = false;
  private hasExited = false;
  private readonly started: Promise<void>;
  private markStarted!: () => void;
  private markStartFailed!: (error: Error) => void;
  private readonly exited: Promise<void>;

  private constructor(
    private readonly worker: Worker,
    private readonly name: string,
  ) {
    this.started = new Promise<void>((resolve, reject) => {
      this.markStarted = resolve;
      this.markStartFailed = reject;
    });
    // Nobody has to wait for the start (a failure also rejects every request), so an unawaited failure is no error.
    this.started.catch(() => undefined);
    worker.on('message', (message: FromThread) => this.onMessage(message));
    worker.on('error', (error) => this.fail(new LambdaflowError('E_WORKER', `${name} crashed: ${error.message}`, {}, { cause: error })));
    this.exited = new Promise((resolve) =>
      worker.on('exit', (code) => {
        this.hasExited = true;
        if (!this.closing) this.fail(new LambdaflowError('E_WORKER', `${name} exited with code ${code}`));
        resolve();
      }),
    );
  }

  /** Starts `url` as a Worker (with `workerData`, under `limits`); `ready()` resolves once it answers requests. */
  static start<Request>(url: URL, name: string, limits?: ResourceLimits, workerData?: unknown): ThreadClient<Request> {
    return new ThreadClient<Request>(new Worker(url, { resourceLimits: limits, workerData }), name);
  }

  /** Resolves once the thread has set itself up and listens; rejects with E_WORKER when it fails first. */
  ready(): Promise<void> {
    return this.started;
  }

  private onMessage(message: FromThread): void {
    if (message.kind === 'ready') return this.markStarted();
    if (message.kind === 'failed') return this.fail(deserializeError(message.error));
    const waiter = this.pending.get(message.id);
    this.pending.delete(message.id);
    if ('error' in message) waiter?.reject(deserializeError(message.error));
    else waiter?.resolve(message.result);
  }

  private fail(error: LambdaflowError): void {
    this.failure ??= error;
    this.markStartFailed(error);
    for (const { reject } of this.pending.values()) reject(error);
    this.pending.clear();
  }

  /**
   * Sends a request (moving `transfer`) and resolves with the worker's result, or rejects with its error. Aborting
   * `signal` asks the handler to stop early; it still answers.
   */
  request<Result>(request: Request, transfer: readonly ArrayBuffer[] = [], signal?: AbortSignal): Promise<Result> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise<Result>((resolve, reject) => {
      const cancel = (): void => this.worker.postMessage({ kind: 'cancel', id } satisfies ToThread<Request>);
      const settled =
        <A>(settle: (value: A) => void) =>
        (value: A) => {
          signal?.removeEventListener('abort', cancel);
          settle(value);
        };
      this.pending.set(id, { resolve: settled(resolve as (result: unknown) => void), reject: settled(reject) });
      this.worker.postMessage({ kind: 'request', id, request, cancellable: signal !== undefined } satisfies ToThread<Request>, transfer);
      if (signal?.aborted) cancel();
      else signal?.addEventListener('abort', cancel, { once: true });
    });
  }

  /**
   * Sends a notice: handled in order with the requests, and answered by nothing, so one that fails fails the thread
   * (every request then rejects with its error). Throws the thread's failure, as a request would reject with it.
   */
  notify(request: Request, transfer: readonly ArrayBuffer[] = []): void {
    if (this.failure) throw this.failure;
    this.worker.postMessage({ kind: 'notice', request } satisfies ToThread<Request>, transfer);
  }

  /** Stops the thread now; pending requests reject with E_WORKER. */
  async close(): Promise<void> {
    this.stopWaiting();
    await this.worker.terminate();
  }

  /**
   * Lets the thread end by itself once it has answered (it stops listening and exits when it has nothing left to do):
   * unlike close(), output it wrote just before (log lines on its stderr) is not lost.
   */
  async finish(): Promise<void> {
    this.stopWaiting();
    if (!this.hasExited) this.worker.postMessage({ kind: 'finish' } satisfies ToThread<Request>);
    await this.exited;
  }

  private stopWaiting(): void {
    this.closing = true;
    this.fail(new LambdaflowError('E_WORKER', `${this.name} was closed`));
  }
}

/**
 * The worker side: answers each request and notice with `handle`, one at a time in arrival order (an answer given
 * later holds the next message back; one given at once costs no promise). `what` names the thread in its errors'
 * messages; without it they reach the client as they were thrown (the service thread's are its command's own).
 */
export function answerRequests<Request>(handle: Handler<Request>, what?: string): void {
  const port = parentPort!;
  const prefix = what === undefined ? '' : `${what}: `;
  const cancellers = new Map<number, AbortController>();
  const backlog: Message<Request>[] = [];
  let busy = false;

  /** Sends message `id`'s error back; a notice's (no id) fails the thread, as nobody waits for its answer. */
  const failed = (id: number | undefined, error: unknown): void => {
    const serialized = serializeError(error, 'E_WORKER', prefix);
    if (id === undefined) return port.postMessage({ kind: 'failed', error: serialized } satisfies FromThread);
    cancellers.delete(id);
    port.postMessage({ kind: 'reply', id, error: serialized } satisfies FromThread);
  };
  const answered = (id: number | undefined, answer: Answer<unknown>): void => {
    if (id === undefined) return;
    cancellers.delete(id);
    try {
      port.postMessage({ kind: 'reply', id, result: answer.result } satisfies FromThread, answer.transfer);
    } catch (error) {
      failed(id, error); // a result that cannot be cloned
    }
  };

  const run = (message: Message<Request>): void => {
    const id = message.kind === 'request' ? message.id : undefined;
    const signal = id === undefined ? NEVER_ABORTED : (cancellers.get(id)?.signal ?? NEVER_ABORTED);
    let answer: Answer<unknown> | Promise<Answer<unknown>>;
    try {
      answer = handle(message.request, signal);
    } catch (error) {
      return failed(id, error);
    }
    if (!(answer instanceof Promise)) return answered(id, answer);
    busy = true;
    answer
      .then(
        (later) => answered(id, later),
        (error: unknown) => failed(id, error),
      )
      .finally(() => {
        busy = false;
        while (!busy && backlog.length > 0) run(backlog.shift()!);
      });
  };

  const listen = (message: ToThread<Request>): void => {
    if (message.kind === 'cancel') cancellers.get(message.id)?.abort();
    else if (message.kind === 'finish') {
      port.off('message', listen);
      port.unref();
    } else {
      if (message.kind === 'request' && message.cancellable) cancellers.set(message.id, new AbortController());
      if (busy) backlog.push(message);
      else run(message);
    }
  };
  port.on('message', listen);
  port.postMessage({ kind: 'ready' } satisfies FromThread);
}

/**
 * A piscina task's side of the same protocol: `handle`'s answer as a Reply (its buffers moved), and a LambdaflowError
 * as a Reply's error. Anything else thrown stays a crash, which piscina rejects the task with.
 */
export function answerTask<Task, Result>(handle: (task: Task) => Answer<Result>): (task: Task) => Reply<Result> {
  return (task) => {
    let answer: Answer<Result>;
    try {
      answer = handle(task);
    } catch (error) {
      if (error instanceof LambdaflowError) return { error: serializeError(error, 'E_WORKER') };
      throw error;
    }
    const reply: Reply<Result> = { result: answer.result };
    const transfer = answer.transfer ?? [];
    if (transfer.length === 0) return reply;
    // piscina moves the buffers of a value wrapped so, and hands the other side the value itself.
    const movable = move({
      get [transferableSymbol]() {
        return transfer;
      },
      get [valueSymbol]() {
        return reply;
      },
    });
    return movable as unknown as Reply<Result>;
  };
}

/** Runs a task on a piscina pool running answerTask handlers: its result, or its error rebuilt; a crash rejects as it came. */
export async function runTask<Result>(pool: Piscina, task: unknown, options: Parameters<Piscina['run']>[1]): Promise<Result> {
  return resultOf((await pool.run(task, options)) as Reply<Result>);
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
