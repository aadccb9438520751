// A speed window's `_WINDOW.json`: what the speed layer writes beside the window's parts, and the one reader of it,
// which checks every field (the serving layer says from it which window it serves, and verify judges the file by it).

import path from 'node:path';
import { LambdaflowError } from '../../core/errors.js';
import { checkedJsonText, parseJsonLine } from '../files/content-check.js';
import { readRegularFile } from '../files/read-range.js';

export const WINDOW_FILE = '_WINDOW.json';
/** A window's description is a handful of numbers: a file past this is damage, not something to read whole. */
const WINDOW_MAX_BYTES = 4096;

/** A published window's `_WINDOW.json`: a processing-time window's bounds in ms, an event-time one's in event seconds. */
export type WindowInfo =
  | { readonly time: 'processing'; readonly startMs: number; readonly endMs: number }
  | { readonly time: 'event'; readonly start: number; readonly end: number; readonly watermark: number; readonly lateRows: number };

/** Its text: checked JSON (its last key `crc32`, see checkedJsonText), so a digit flipped in a bound is found. */
export const windowInfoText = (info: WindowInfo): string => checkedJsonText(info);

const isInteger = (value: unknown): value is number => Number.isSafeInteger(value);

/** What is wrong with a parsed `_WINDOW.json` of the window ending at `endMs` (its folder's name), or the info it holds. */
function windowInfoOf(value: unknown, endMs: number): WindowInfo | string {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'expected a JSON object';
  const json = value as Record<string, unknown>;
  if (json.time === 'processing') {
    const { startMs, endMs: end } = json;
    if (!isInteger(startMs) || !isInteger(end) || startMs >= end) return 'expected whole-ms startMs < endMs';
    if (end !== endMs) return `expected endMs ${endMs} (the folder's name), found ${end}`;
    return Object.freeze({ time: 'processing', startMs, endMs: end });
  }
  if (json.time === 'event') {
    const { start, end, watermark, lateRows } = json;
    if (!isInteger(start) || !isInteger(end) || start >= end) return 'expected whole-second start < end';
    if (end * 1000 !== endMs) return `expected end ${endMs / 1000} (the folder's name), found ${end}`;
    // An event-time window is published once the watermark reaches its end, never before.
    if (!isInteger(watermark) || watermark < end) return `expected a watermark of at least its end ${end}, found ${JSON.stringify(watermark)}`;
    if (!isInteger(lateRows) || lateRows < 0) return `expected lateRows a count, found ${JSON.stringify(lateRows)}`;
    return Object.freeze({ time: 'event', start, end, watermark, lateRows });
  }
  return `expected time "processing" or "event", found ${JSON.stringify(json.time)}`;
}

/**
 * What the window in `dir` (`speed-<endMs>.txt`) says it is; undefined when it has no `_WINDOW.json` (published before
 * it had one). A damaged one — a link, too big, cut, corrupted, a field missing or wrong — is one E_STATE naming it.
 * One without its crc32 (written before checks) is read as plain JSON, every field still checked.
 */
export function readWindowInfo(dir: string, endMs: number): WindowInfo | undefined {
  const file = path.join(dir, WINDOW_FILE);
  let bytes: Buffer;
  try {
    bytes = readRegularFile(file, 'E_STATE', WINDOW_MAX_BYTES);
  } catch (error) {
    if (((error as Error).cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') return undefined;
    throw error;
  }
  const parsed = parseJsonLine(bytes.toString('utf8').replace(/\n$/, ''));
  const info = typeof parsed === 'string' ? parsed : parsed.value === undefined ? 'not JSON' : windowInfoOf(parsed.value, endMs);
  if (typeof info === 'string') throw new LambdaflowError('E_STATE', `damaged window file ${file}: ${info}`, { file });
  return info;
}
