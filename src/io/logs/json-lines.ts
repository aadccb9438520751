// The JSON-lines files the layers append to (the ingest log, the compaction record, replay ledgers): one reader that
// checks each line's CRC-32 and leaves out a last line a crash cut short, and one durable append that cuts such a
// line off first and writes each line with its check.

import fs from 'node:fs';
import path from 'node:path';
import { LambdaflowError } from '../../core/errors.js';
import { fsyncDirectory } from '../files/atomic.js';
import { checkedJsonText, parseJsonLine } from '../files/content-check.js';
import { readRegularFile } from '../files/read-range.js';

/**
 * Reads a JSON-lines file (none: no lines) and hands each whole line, parsed (undefined when it is not JSON), to
 * `accept` in order with its index; a line `accept` refuses makes the file damaged: E_STATE naming `label` (e.g. "the
 * ingest log <path>") and the line. Each line carries the CRC-32 of its text (checkedJsonText), so a digit flipped in a
 * line that still parses is damage too; a line without one was written before checks and is taken as it is, but not
 * after a line with one (every writer since checks adds it). A last line without its newline is an append cut short
 * by a crash, never acknowledged: left out. Links are not followed. Returns the bytes of the whole lines, where the
 * next append goes.
 */
export function readJsonLines(file: string, label: string, accept: (value: unknown, index: number) => boolean): number {
  let bytes: Buffer;
  try {
    bytes = readRegularFile(file, 'E_STATE');
  } catch (error) {
    if (((error as Error).cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') return 0;
    throw new LambdaflowError('E_STATE', `cannot read ${label}: ${(error as Error).message}`, { file }, { cause: error });
  }
  const validBytes = bytes.lastIndexOf(0x0a) + 1;
  const lines = bytes.subarray(0, validBytes).toString('utf8').split('\n');
  lines.pop();
  let checkedBefore = false;
  lines.forEach((line, i) => {
    const damaged = (problem?: string): LambdaflowError =>
      new LambdaflowError('E_STATE', `${label} is damaged at line ${i + 1}${problem === undefined ? '' : `: ${problem}`}`, { file, line: i + 1 });
    const parsed = parseJsonLine(line);
    if (typeof parsed === 'string') throw damaged(parsed);
    if (checkedBefore && !parsed.checked) throw damaged('it has no CRC-32, and lines before it have theirs');
    checkedBefore ||= parsed.checked;
    if (!accept(parsed.value, i)) throw damaged();
  });
  return validBytes;
}

/** Values as the lines of a JSON-lines file, each with its CRC-32 (what readJsonLines reads). */
export function jsonLinesText(values: readonly object[]): string {
  return values.map((value) => checkedJsonText(value)).join('');
}

/**
 * Durably appends values as lines (fsync; the folder too when the file is new) after the first `validBytes` bytes
 * (readJsonLines'), cutting off a line a crash left half written.
 */
export function appendJsonLines(file: string, label: string, validBytes: number, values: readonly object[]): void {
  const created = !fs.existsSync(file);
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'a+');
    if (fs.fstatSync(fd).size !== validBytes) fs.ftruncateSync(fd, validBytes);
    fs.writeFileSync(fd, jsonLinesText(values));
    fs.fsyncSync(fd);
  } catch (cause) {
    throw new LambdaflowError('E_WRITE', `cannot append to ${label}: ${(cause as Error).message}`, { file }, { cause });
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
  if (created) fsyncDirectory(path.dirname(file));
}
