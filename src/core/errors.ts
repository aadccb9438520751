// Typed errors with stable codes, and the one way they cross a thread boundary; the CLI maps them to one line and an exit code.

export const ERROR_CODES = [
  'E_OPTIONS', // a flag or option is invalid
  'E_BAD_ROW', // a malformed row in failfast mode
  'E_INPUT', // an input file or folder cannot be used
  'E_WORKER', // a worker thread failed
  'E_WRITE', // an output could not be written
  'E_LOCKED', // another process owns the data folder's speed layer
  'E_STATE', // on-disk state is inconsistent (a logged file is missing, …)
  'E_OVERFLOW', // a total left the exactly representable integer range
  'E_PROCESS', // a child process (soak's pipeline, a benchmark run) failed
  'E_NETWORK', // a socket cannot be used (a port in use, a server unreachable)
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

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

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (ERROR_CODES as readonly string[]).includes(value);
}

/** Exit code the CLI uses: 2 for input the user must fix (bad flags, failfast rows), 1 otherwise. */
export function exitCodeFor(error: unknown): number {
  if (error instanceof LambdaflowError && (error.code === 'E_OPTIONS' || error.code === 'E_BAD_ROW')) return 2;
  return 1;
}

/** An error as plain data, so it crosses a thread boundary (structured clone drops class, code and context). */
export interface SerializedError {
  readonly code: ErrorCode;
  readonly message: string;
  readonly context: ErrorContext;
  /** The cause's message and errno-style code (e.g. ENOENT), when there was one. */
  readonly cause?: { readonly message: string; readonly code?: string };
}

function causeOf(error: unknown): SerializedError['cause'] {
  if (error === undefined || error === null) return undefined;
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    return typeof code === 'string' ? { message: error.message, code } : { message: error.message };
  }
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- a thrown non-Error reads as String() shows it, as in serializeError
  return { message: String(error) };
}

/**
 * Turns anything thrown on a thread into data: a LambdaflowError keeps its code, context and cause; anything else
 * becomes `fallback` (the code that fits where it happened, e.g. E_WORKER) with the original as its cause.
 */
export function serializeError(error: unknown, fallback: ErrorCode, prefix = ''): SerializedError {
  if (error instanceof LambdaflowError) {
    const cause = causeOf(error.cause);
    return { code: error.code, message: prefix + error.message, context: error.context, ...(cause ? { cause } : {}) };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { code: fallback, message: prefix + message, context: {}, cause: causeOf(error) };
}

/** Rebuilds the LambdaflowError a thread serialized, with the same code, context and (as an Error) cause. */
export function deserializeError(serialized: SerializedError): LambdaflowError {
  let cause: Error | undefined;
  if (serialized.cause) {
    cause = new Error(serialized.cause.message);
    if (serialized.cause.code !== undefined) (cause as NodeJS.ErrnoException).code = serialized.cause.code;
  }
  const code = isErrorCode(serialized.code) ? serialized.code : 'E_WORKER';
  return new LambdaflowError(code, serialized.message, serialized.context ?? {}, cause ? { cause } : undefined);
}
