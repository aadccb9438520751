// Errors crossing threads: one serialization keeps code, context and cause, through a real structured clone.

import { describe, expect, it } from 'vitest';
import { ERROR_CODES, LambdaflowError, deserializeError, serializeError } from '../../src/core/errors.js';

/** What postMessage does to a message. */
const acrossThreads = <T>(value: T): T => structuredClone(value);

describe('serializeError / deserializeError', () => {
  it.each(ERROR_CODES.map((code) => ({ code })))('keeps $code, its context and its cause', ({ code }) => {
    const cause = Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
    const original = new LambdaflowError(code, 'it failed', { file: '/x/y.csv', line: 3 }, { cause });
    const revived = deserializeError(acrossThreads(serializeError(original, 'E_WORKER')));
    expect(revived).toBeInstanceOf(LambdaflowError);
    expect(revived.code).toBe(code);
    expect(revived.message).toBe('it failed');
    expect(revived.context).toEqual({ file: '/x/y.csv', line: 3 });
    expect((revived.cause as NodeJS.ErrnoException).message).toBe('no space left on device');
    expect((revived.cause as NodeJS.ErrnoException).code).toBe('ENOSPC');
  });

  it('turns an unexpected error into the fallback code with the original as its cause', () => {
    const revived = deserializeError(acrossThreads(serializeError(new TypeError('x is undefined'), 'E_WORKER', 'speed worker 1: ')));
    expect(revived.code).toBe('E_WORKER');
    expect(revived.message).toBe('speed worker 1: x is undefined');
    expect((revived.cause as Error).message).toBe('x is undefined');
  });

  it('rebuilds an unknown code (a newer thread, a damaged message) as E_WORKER rather than inventing one', () => {
    const revived = deserializeError({ code: 'E_NOPE' as never, message: 'm', context: {} });
    expect(revived.code).toBe('E_WORKER');
  });
});
