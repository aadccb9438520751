// Content checks for state files: a line count and a CRC-32 written with the bytes they describe, so that a reader
// tells a cut or corrupted file from a complete one (a file cut at a line boundary still parses line by line).

import zlib from 'node:zlib';

export interface ContentCheck {
  readonly lines: number;
  readonly crc32: number;
}

function lineCount(bytes: Uint8Array): number {
  let lines = 0;
  for (let at = bytes.indexOf(0x0a); at !== -1; at = bytes.indexOf(0x0a, at + 1)) lines++;
  return lines;
}

export function contentCheckOf(bytes: Uint8Array): ContentCheck {
  return { lines: lineCount(bytes), crc32: zlib.crc32(bytes) };
}

/** A check as read back from JSON; undefined when it is not one. */
export function contentCheckFrom(value: unknown): ContentCheck | undefined {
  const { lines, crc32 } = (value ?? {}) as { lines?: unknown; crc32?: unknown };
  return Number.isSafeInteger(lines) && Number.isSafeInteger(crc32) ? { lines: lines as number, crc32: crc32 as number } : undefined;
}

const hex = (crc: number): string => crc.toString(16).padStart(8, '0');

/** How `bytes` differ from what was written (`expected`), for an error message; undefined when they match. */
export function contentMismatch(bytes: Uint8Array, expected: ContentCheck): string | undefined {
  const found = contentCheckOf(bytes);
  if (found.lines !== expected.lines) return `expected ${expected.lines} lines, found ${found.lines}`;
  if (found.crc32 !== expected.crc32) return `expected CRC-32 ${hex(expected.crc32)}, found ${hex(found.crc32)}`;
  return undefined;
}

const JSON_CHECK_KEY = ',"crc32":';
const JSON_CHECK_AT_END = /,"crc32":(\d+)\}\n$/;

/**
 * A JSON state object's text with its own check: a last key `crc32`, the CRC-32 of the text before it, so a digit
 * flipped in a seq or a cut is found (both may still parse). Readers that ignore it see plain JSON.
 */
export function checkedJsonText(value: object): string {
  const body = JSON.stringify(value).slice(0, -1);
  return `${body}${JSON_CHECK_KEY}${zlib.crc32(body)}}\n`;
}

/** The CRC-32 a checkedJsonText text ends with, and the text it is of; undefined when it ends with none. */
function checkAtEnd(text: string): { body: string; crc32: number } | undefined {
  const check = JSON_CHECK_AT_END.exec(text);
  return check ? { body: text.slice(0, check.index), crc32: Number(check[1]) } : undefined;
}

/** The object checkedJsonText wrote (without its `crc32`); a string saying what is wrong when the text does not prove itself. */
export function parseCheckedJson(text: string): Record<string, unknown> | string {
  const check = checkAtEnd(text);
  if (!check) return 'it does not end with its crc32 (cut, or from before checks)';
  const found = zlib.crc32(check.body);
  if (check.crc32 !== found) return `expected CRC-32 ${hex(check.crc32)}, found ${hex(found)}`;
  const { crc32: _check, ...value } = JSON.parse(text) as Record<string, unknown>;
  return value;
}

/**
 * One line of a JSON-lines file (without its newline) that checkedJsonText may have written: its value (undefined
 * when it is not JSON) and whether it carried its CRC-32 (a line from before checks does not); a string saying what
 * is wrong when it carries one that does not match.
 */
export function parseJsonLine(line: string): { readonly value: unknown; readonly checked: boolean } | string {
  const text = `${line}\n`;
  if (checkAtEnd(text) !== undefined) {
    const checked = parseCheckedJson(text);
    return typeof checked === 'string' ? checked : { value: checked, checked: true };
  }
  try {
    return { value: JSON.parse(line) as unknown, checked: false };
  } catch {
    return { value: undefined, checked: false };
  }
}
