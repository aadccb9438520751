// Streams a byte range of a file through the core parser with a bounded buffer (never the whole file in memory).

import fs from 'node:fs';
import { type AggSink } from '../../core/agg-table.js';
import { type ErrorCode, LambdaflowError } from '../../core/errors.js';
import { type BadRowMode, EventParser, type EventParserOptions, type RangeParse, parserOptionsFor } from '../../core/event-parser.js';

const READ_BYTES = 4 << 20;
let sharedBuffer: Buffer | undefined;

/** Why an entry (from lstat, links not followed) is not an input: undefined for a regular file. */
export function notRegularFile(stat: fs.Stats): string | undefined {
  if (stat.isFile()) return undefined;
  return stat.isSymbolicLink() ? 'a symbolic link (links are not followed)' : 'not a regular file';
}

/**
 * Opens an input (or, with code E_STATE, a state file) for reading, refusing anything but a regular file, even one
 * swapped in after the listing: O_NOFOLLOW refuses a symbolic link (ELOOP), O_NONBLOCK keeps a FIFO from blocking the
 * open forever (it has no effect on regular files), and fstat then checks what was opened.
 */
export function openRegularFile(path: string, code: ErrorCode = 'E_INPUT'): number {
  let fd: number;
  try {
    fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOFOLLOW);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ELOOP') {
      throw new LambdaflowError(code, `${path} is a symbolic link (links are not followed)`, { file: path }, { cause });
    }
    throw new LambdaflowError(code, `cannot open ${path}: ${(cause as Error).message}`, { file: path }, { cause });
  }
  if (!fs.fstatSync(fd).isFile()) {
    fs.closeSync(fd);
    throw new LambdaflowError(code, `${path} is not a regular file`, { file: path });
  }
  return fd;
}

/**
 * A regular file's bytes (see openRegularFile), refusing one of more than `maxBytes` with `code` and the sizes: a state
 * file read whole must not take the memory of whatever was put in its place.
 */
export function readRegularFile(path: string, code: ErrorCode, maxBytes = Number.MAX_SAFE_INTEGER): Buffer {
  const fd = openRegularFile(path, code);
  try {
    const size = fs.fstatSync(fd).size;
    if (size > maxBytes) throw new LambdaflowError(code, `${path} is ${size} bytes, more than the ${maxBytes} bytes such a file may have`, { file: path });
    return fs.readFileSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Parses bytes [start, end) of a file (start must be a line start) into the table, purchases by bucket (0: over all time). */
export function parseFileRange(
  path: string,
  start: number,
  end: number,
  table: AggSink,
  mode: BadRowMode,
  bucketSeconds: number,
  onGoodRow?: EventParserOptions['onGoodRow'],
): RangeParse {
  const buffer = (sharedBuffer ??= Buffer.allocUnsafe(READ_BYTES));
  const parser = new EventParser(table, { ...parserOptionsFor(mode, start === 0, bucketSeconds), onGoodRow });
  const fd = openRegularFile(path);
  let truncated: boolean;
  try {
    let carry = 0;
    let position = start;
    for (;;) {
      const read = fs.readSync(fd, buffer, carry, Math.min(buffer.length - carry, end - position), position);
      position += read;
      truncated = read === 0 && position < end;
      const final = position >= end || truncated;
      const filled = carry + read;
      const consumed = parser.consume(buffer, 0, filled, final);
      if (final || parser.hasStopped) break;
      buffer.copyWithin(0, consumed, filled);
      carry = filled - consumed;
    }
  } finally {
    fs.closeSync(fd);
  }
  return { lineCount: parser.lineCount, counts: parser.counts, badRows: parser.badRows, truncated };
}
