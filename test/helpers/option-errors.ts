// Checking that a bad option value is refused the one way the CLI promises: E_OPTIONS, naming the flag.

import { expect } from 'vitest';
import { LambdaflowError } from '../../src/core/errors.js';

/** Runs `resolve`, expects it to throw E_OPTIONS whose message starts with `--flag: `, and returns the error. */
export function expectOptionsError(resolve: () => unknown, flag: string): LambdaflowError {
  let thrown: unknown;
  try {
    resolve();
  } catch (error) {
    thrown = error;
  }
  expect(thrown, `a bad --${flag} is refused`).toBeInstanceOf(LambdaflowError);
  const error = thrown as LambdaflowError;
  expect(error.code).toBe('E_OPTIONS');
  expect(error.context.flag).toBe(flag);
  expect(error.message.startsWith(`--${flag}: `), error.message).toBe(true);
  return error;
}
