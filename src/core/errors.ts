// Typed errors with stable codes; the CLI maps them to one line and an exit code.

export type ErrorCode =
  | 'E_OPTIONS' // a flag or option is invalid
  | 'E_BAD_ROW' // a malformed row in failfast mode
  | 'E_INPUT' // an input file or folder cannot be used
  | 'E_WORKER' // a worker thread failed
  | 'E_WRITE' // an output could not be written
  | 'E_LOCKED' // another process owns the data folder's speed layer
  | 'E_STATE' // on-disk state is inconsistent (a logged file is missing, …)
  | 'E_OVERFLOW'; // a total left the exactly representable integer range

export interface ErrorContext {
  readonly file?: string;
  readonly line?: number;
  readonly reason?: string;
  readonly partition?: number;
  readonly flag?: string;
}

export class LambdaflowError extends Error {
  readonly code: ErrorCode;
  readonly context: ErrorContext;

  constructor(code: ErrorCode, message: string, context: ErrorContext = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LambdaflowError';
    this.code = code;
    this.context = context;
  }
}

/** Exit code the CLI uses: 2 for input the user must fix (bad flags, failfast rows), 1 otherwise. */
export function exitCodeFor(error: unknown): number {
  if (error instanceof LambdaflowError && (error.code === 'E_OPTIONS' || error.code === 'E_BAD_ROW')) return 2;
  return 1;
}

/** Recreates a LambdaflowError that crossed a thread boundary as a plain object. */
export function reviveError(error: unknown): unknown {
  if (error instanceof LambdaflowError) return error;
  if (error !== null && typeof error === 'object' && 'code' in error && 'message' in error) {
    const plain = error as { code: unknown; message: unknown; context?: unknown };
    const codes: readonly string[] = ['E_OPTIONS', 'E_BAD_ROW', 'E_INPUT', 'E_WORKER', 'E_WRITE', 'E_LOCKED', 'E_STATE', 'E_OVERFLOW'];
    if (typeof plain.code === 'string' && codes.includes(plain.code) && typeof plain.message === 'string') {
      const context = (plain.context && typeof plain.context === 'object' ? plain.context : {}) as ErrorContext;
      return new LambdaflowError(plain.code as ErrorCode, plain.message, context);
    }
  }
  return error;
}
