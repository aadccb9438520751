// The thread protocol: errors keep their code, context and cause across it, moved buffers leave their thread, notices
// stay in order with requests, and a thread that crashes, fails or is closed rejects what is pending.

import { afterEach, describe, expect, it } from 'vitest';
import { LambdaflowError } from '../../../src/core/errors.js';
import { ThreadClient } from '../../../src/io/threads/thread-rpc.js';
import { requireBuild } from '../../helpers/cli.js';

const BUILT = (file: string): string => JSON.stringify(new URL(`../../../dist/src/${file}`, import.meta.url).href);

/** A worker answering TestRequests with the built thread-rpc (a worker runs JavaScript), as a data: URL. */
const WORKER_URL = new URL(
  'data:text/javascript,' +
    encodeURIComponent(`
      import { answerRequests, NO_RESULT } from ${BUILT('io/threads/thread-rpc.js')};
      import { LambdaflowError } from ${BUILT('core/errors.js')};
      let sum = 0;
      let kept;
      answerRequests(async (request, signal) => {
        switch (request.type) {
          case 'add': sum += request.n; return NO_RESULT;
          case 'sum': return { result: sum };
          case 'sum-later': { const now = sum; await new Promise((r) => setTimeout(r, 50)); return { result: now }; }
          case 'fail': {
            const cause = Object.assign(new Error('no such file'), { code: 'ENOENT' });
            throw new LambdaflowError('E_INPUT', 'cannot open in.csv', { file: 'in.csv' }, { cause });
          }
          case 'bad-notice': throw new RangeError('a notice went wrong');
          case 'move': kept = request.bytes; return { result: request.bytes, transfer: [request.bytes.buffer] };
          case 'kept-bytes': return { result: kept.byteLength };
          case 'crash': setTimeout(() => { throw new Error('boom'); }); return new Promise(() => {});
          case 'exit': process.exit(3);
          case 'hang': return new Promise(() => {});
          case 'until-cancelled': await new Promise((r) => signal.addEventListener('abort', r)); return { result: 'cancelled' };
        }
      }, 'test thread');
    `),
);

type TestRequest =
  | { type: 'add'; n: number }
  | { type: 'sum' | 'sum-later' | 'fail' | 'bad-notice' | 'kept-bytes' | 'crash' | 'exit' | 'hang' | 'until-cancelled' }
  | { type: 'move'; bytes: Uint8Array };

let thread: ThreadClient<TestRequest> | undefined;

async function started(): Promise<ThreadClient<TestRequest>> {
  requireBuild();
  thread = ThreadClient.start<TestRequest>(WORKER_URL, 'test thread');
  await thread.ready();
  return thread;
}

afterEach(async () => {
  await thread?.close();
  thread = undefined;
});

describe('thread-rpc', () => {
  it('an error keeps its code, context and cause (with its errno code), its message naming the thread', async () => {
    const rejected = (await started()).request({ type: 'fail' });
    await expect(rejected).rejects.toBeInstanceOf(LambdaflowError);
    await expect(rejected).rejects.toMatchObject({
      code: 'E_INPUT',
      message: 'test thread: cannot open in.csv',
      context: { file: 'in.csv' },
      cause: { message: 'no such file', code: 'ENOENT' },
    });
  });

  it('moves transferred buffers both ways: the sender keeps a detached buffer', async () => {
    const client = await started();
    const bytes = new Uint8Array([1, 2, 3, 4]);
    const back = await client.request<Uint8Array>({ type: 'move', bytes }, [bytes.buffer]);
    expect(bytes.byteLength).toBe(0);
    expect([...back]).toEqual([1, 2, 3, 4]);
    expect(await client.request<number>({ type: 'kept-bytes' })).toBe(0);
  });

  it('handles notices and requests in arrival order, an answer given later holding the next message back', async () => {
    const client = await started();
    client.notify({ type: 'add', n: 1 });
    const later = client.request<number>({ type: 'sum-later' });
    client.notify({ type: 'add', n: 2 });
    expect(await client.request<number>({ type: 'sum' })).toBe(3);
    expect(await later).toBe(1);
  });

  it('a notice that fails fails the thread: pending and later requests reject with its error, notify throws it', async () => {
    const client = await started();
    client.notify({ type: 'bad-notice' });
    const pending = client.request({ type: 'hang' });
    await expect(pending).rejects.toMatchObject({ code: 'E_WORKER', message: 'test thread: a notice went wrong' });
    await expect(client.request({ type: 'sum' })).rejects.toMatchObject({ message: 'test thread: a notice went wrong' });
    expect(() => client.notify({ type: 'add', n: 1 })).toThrow('test thread: a notice went wrong');
  });

  it.each([
    ['crashes', 'crash', /^test thread crashed: boom$/],
    ['exits', 'exit', /^test thread exited with code 3$/],
  ] as const)('a thread that %s rejects every pending request with E_WORKER', async (_, type, message) => {
    const client = await started();
    const failing = client.request({ type });
    const waiting = client.request({ type: 'hang' }); // held back behind the one that fails
    for (const pending of [failing, waiting]) await expect(pending).rejects.toMatchObject({ code: 'E_WORKER', message: expect.stringMatching(message) });
    await expect(client.request({ type: 'sum' })).rejects.toMatchObject({ code: 'E_WORKER' });
  });

  it('close() rejects pending requests with E_WORKER', async () => {
    const client = await started();
    const rejected = expect(client.request({ type: 'hang' })).rejects.toMatchObject({ code: 'E_WORKER', message: 'test thread was closed' });
    await client.close();
    await rejected;
  });

  it("a request's signal cancels it: the handler sees the abort and still answers", async () => {
    const client = await started();
    const controller = new AbortController();
    const answer = client.request<string>({ type: 'until-cancelled' }, [], controller.signal);
    controller.abort();
    expect(await answer).toBe('cancelled');
  });

  it('finish() lets the thread exit by itself once it has answered', async () => {
    const client = await started();
    expect(await client.request<number>({ type: 'sum' })).toBe(0);
    await client.finish();
    await expect(client.request({ type: 'sum' })).rejects.toMatchObject({ code: 'E_WORKER', message: 'test thread was closed' });
  });

  it('ready() rejects with E_WORKER when the thread fails before it listens', async () => {
    requireBuild();
    thread = ThreadClient.start<TestRequest>(new URL('data:text/javascript,' + encodeURIComponent("throw new Error('no start')")), 'test thread');
    await expect(thread.ready()).rejects.toMatchObject({ code: 'E_WORKER', message: 'test thread crashed: no start' });
  });
});
