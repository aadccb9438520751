// The JSON-lines files the layers append to (the ingest log, the compaction record, replay ledgers): one reader that
// leaves out a last line a crash cut short, and one durable append that cuts such a line off first.

import fs from 'node:fs';
import path from 'node:path';
import { LambdaflowError } from '../../core/errors.js';
import { fsyncDirectory } from '../files/atomic.js';

/**
 * Reads a JSON-lines file (none: no lines) and hands each whole line, parsed (undefined when it is not JSON), to
 * `accept` in order with its index; a line `accept` refuses makes the file damaged: E_STATE naming `label` (e.g. "the
 * ingest log <path>") and the line. A last line without its newline is an append cut short by a crash, never
 * acknowledged: left out. Returns the bytes of the whole lines, where the next append goes.
 */
export function readJsonLines(file: string, label: string, accept: (value: unknown, index: number) => boolean): number {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw new LambdaflowError('E_STATE', `cannot read ${label}: ${(error as Error).message}`, { file });
  }
  const validBytes = bytes.lastIndexOf(0x0a) + 1;
  const lines = bytes.subarray(0, validBytes).toString('utf8').split('\n');
  lines.pop();
  lines.forEach((line, i) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      parsed = undefined;
    }
    if (!accept(parsed, i)) throw new LambdaflowError('E_STATE', `${label} is damaged at line ${i + 1}`, { file, line: i + 1 });
  });
  return validBytes;
}

/**
 * Durably appends values as lines (fsync; the folder too when the file is new) after the first `validBytes` bytes
 * (readJsonLines'), cutting off a line a crash left half written.
 */
export function appendJsonLines(file: string, label: string, validBytes: number, values: readonly unknown[]): void {
  const created = !fs.existsSync(file);
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'a+');
    if (fs.fstatSync(fd).size !== validBytes) fs.ftruncateSync(fd, validBytes);
    fs.writeFileSync(fd, values.map((value) => JSON.stringify(value)).join('\n') + '\n');
    fs.fsyncSync(fd);
  } catch (cause) {
    throw new LambdaflowError('E_WRITE', `cannot append to ${label}: ${(cause as Error).message}`, { file }, { cause });
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
  if (created) fsyncDirectory(path.dirname(file));
}
