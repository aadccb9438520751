// Planning map tasks: line-aligned byte ranges that cover every byte once, small files grouped, a big file split;
// and findLineStart, the line-start rule shared with the parser (LF, CRLF never split, lone CR).

import { describe, expect, it } from 'vitest';
import { UserAggTable } from '../../src/core/agg-table.js';
import { EventParser, HEADER_LINE, parseWhole } from '../../src/core/event-parser.js';
import { type ByteRange, MIN_RANGE_BYTES, findLineStart, planTasks } from '../../src/core/partition-plan.js';
import { seeded } from '../helpers/prng.js';

const LF = 0x0a;
const CR = 0x0d;
const MIB = 1 << 20;

/** Independent rule: q starts a line when the byte before is LF, or CR not followed by LF (CR at EOF ends a line). */
function isLineStart(bytes: Uint8Array, q: number): boolean {
  if (q <= 0 || q > bytes.length) return false;
  const before = bytes[q - 1];
  if (before === LF) return true;
  if (before === CR) return q === bytes.length || bytes[q] !== LF;
  return false;
}

/** The first line start at or after offset, or the size when none: what planTasks expects of its callback. */
function referenceLineStartAtOrAfter(bytes: Uint8Array, offset: number): number {
  for (let q = Math.max(offset, 1); q <= bytes.length; q++) if (isLineStart(bytes, q)) return q;
  return bytes.length;
}

/** A callback built on findLineStart the way the batch coordinator uses it (window starts one byte before). */
function finderOver(files: readonly Uint8Array[]): (fileIndex: number, offset: number) => number {
  return (fileIndex, offset) => {
    const bytes = files[fileIndex]!;
    const found = findLineStart(bytes.subarray(offset - 1), 1, true);
    return found < 0 ? bytes.length : offset - 1 + found;
  };
}

function expectExactCover(tasks: ByteRange[][], sizes: readonly number[]): void {
  const byFile = new Map<number, ByteRange[]>();
  for (const range of tasks.flat()) {
    expect(range.end).toBeGreaterThan(range.start);
    byFile.set(range.fileIndex, [...(byFile.get(range.fileIndex) ?? []), range]);
  }
  sizes.forEach((size, fileIndex) => {
    const ranges = (byFile.get(fileIndex) ?? []).sort((a, b) => a.start - b.start);
    let at = 0;
    for (const range of ranges) {
      expect(range.start, `file ${fileIndex}: gap or overlap at ${at}`).toBe(at);
      at = range.end;
    }
    expect(at, `file ${fileIndex} covered to its end`).toBe(size);
  });
}

describe('findLineStart', () => {
  const at = (text: string, from: number, atEndOfFile = true): number => findLineStart(Buffer.from(text, 'latin1'), from, atEndOfFile);

  it('LF: the position after the LF', () => {
    expect(at('ab\ncd', 1)).toBe(3);
    expect(at('ab\ncd', 3)).toBe(3);
    expect(at('ab\ncd\nef', 4)).toBe(6);
    expect(at('ab\n', 1)).toBe(3);
  });

  it('CRLF is never split: the position after the LF, not between CR and LF', () => {
    expect(at('ab\r\ncd', 1)).toBe(4);
    expect(at('ab\r\ncd', 3)).toBe(4);
    expect(at('ab\r\ncd', 4)).toBe(4);
  });

  it('lone CR: the position after the CR', () => {
    expect(at('ab\rcd', 1)).toBe(3);
    expect(at('ab\r\rcd', 4)).toBe(4);
    expect(at('ab\r\r\ncd', 3)).toBe(3);
    expect(at('ab\r\r\ncd', 4)).toBe(5);
  });

  it('a CR as the last byte: a line start at end of file, undecided (-1) otherwise', () => {
    expect(at('ab\r', 1, true)).toBe(3);
    expect(at('ab\r', 1, false)).toBe(-1);
  });

  it('no line start: -1', () => {
    expect(at('abcdef', 1)).toBe(-1);
    expect(at('', 1)).toBe(-1);
    expect(at('ab\ncd', 4)).toBe(-1);
  });

  it('agrees with the independent rule on random LF/CR/text strings, for every start', () => {
    const random = seeded(31);
    for (let trial = 0; trial < 400; trial++) {
      const bytes = Uint8Array.from({ length: random.between(0, 24) }, () => random.pick([LF, CR, CR, 0x61, 0x62]));
      for (let from = 1; from <= bytes.length + 1; from++) {
        // at end of file: the first line start ≥ from, or -1
        let expected = -1;
        for (let q = from; q <= bytes.length; q++)
          if (isLineStart(bytes, q)) {
            expected = q;
            break;
          }
        expect(findLineStart(bytes, from, true), `${Buffer.from(bytes).toString('latin1')} from ${from}`).toBe(expected);
        // not at end of file: the same, unless it would rest on a final CR (which needs the next byte)
        let notEof = -1;
        for (let q = from; q <= bytes.length; q++) {
          if (q === bytes.length && bytes[q - 1] === CR) break;
          if (isLineStart(bytes, q)) {
            notEof = q;
            break;
          }
        }
        expect(findLineStart(bytes, from, false)).toBe(notEof);
      }
    }
  });

  it('scanning in small windows that overlap by one byte finds the same line start as one scan', () => {
    const random = seeded(37);
    for (let trial = 0; trial < 200; trial++) {
      const bytes = Uint8Array.from({ length: random.between(2, 60) }, () => random.pick([LF, CR, 0x61, 0x61, 0x61]));
      const window = random.between(2, 6);
      for (let offset = 1; offset < bytes.length; offset++) {
        let found = bytes.length;
        for (let position = offset - 1; position < bytes.length;) {
          const slice = bytes.subarray(position, Math.min(bytes.length, position + window));
          const q = findLineStart(slice, 1, position + slice.length >= bytes.length);
          if (q >= 0) {
            found = position + q;
            break;
          }
          position += slice.length - 1;
          if (slice.length <= 1) break;
        }
        expect(found, `offset ${offset}, window ${window}`).toBe(referenceLineStartAtOrAfter(bytes, offset));
      }
    }
  });
});

describe('planTasks', () => {
  /** Rows with mixed line endings; `eolAt` forces a given ending near chosen offsets. */
  function bigFile(bytes: number, seed: number): Uint8Array {
    const random = seeded(seed);
    let text = `${HEADER_LINE}\n`;
    const parts: string[] = [text];
    let size = text.length;
    while (size < bytes) {
      const eol = random.pick(['\n', '\n', '\r\n', '\r']);
      text = random.chance(0.002)
        ? `bad row ${random.int(100)}${eol}`
        : random.chance(0.02)
          ? eol
          : `u${random.int(5000)},${random.chance(0.3) ? 'purchase' : 'view'},${random.int(500)}.${String(random.int(100)).padStart(2, '0')},${1_700_000_000 + random.int(1e6)}${eol}`;
      parts.push(text);
      size += text.length;
    }
    return Buffer.from(parts.join(''), 'latin1');
  }

  it('groups many small files into one task, each file whole', () => {
    const sizes = Array.from({ length: 50 }, (_, i) => 1000 + i);
    const files = sizes.map((size) => Buffer.alloc(size, 'a\n'));
    const tasks = planTasks(
      sizes.map((size) => ({ size })),
      8,
      finderOver(files),
    );
    expect(tasks).toHaveLength(1);
    expect(tasks[0]!.map((r) => [r.fileIndex, r.start, r.end])).toEqual(sizes.map((size, i) => [i, 0, size]));
  });

  it('groups small files into tasks of about MIN_RANGE_BYTES when there are many', () => {
    const sizes = Array.from({ length: 40 }, () => 100_000);
    const files = sizes.map((size) => Buffer.alloc(size, 'abc\n'));
    const tasks = planTasks(
      sizes.map((size) => ({ size })),
      8,
      finderOver(files),
    );
    expectExactCover(tasks, sizes);
    expect(MIN_RANGE_BYTES).toBe(MIB);
    expect(tasks.length).toBe(Math.ceil((40 * 100_000) / MIB));
    for (const task of tasks.slice(0, -1)) expect(task.reduce((n, r) => n + r.end - r.start, 0)).toBeGreaterThanOrEqual(MIB);
  });

  it('splits one big file into several tasks at line starts', () => {
    const file = bigFile(5 * MIB, 1);
    const tasks = planTasks([{ size: file.length }], 4, finderOver([file]));
    expect(tasks.length).toBeGreaterThanOrEqual(4);
    expect(tasks.length).toBeLessThanOrEqual(5);
    expectExactCover(tasks, [file.length]);
    for (const range of tasks.flat()) {
      if (range.start > 0) expect(isLineStart(file, range.start), `cut at ${range.start}`).toBe(true);
    }
    const target = Math.ceil(file.length / 4);
    for (const task of tasks.slice(0, -1)) {
      const bytes = task.reduce((n, r) => n + r.end - r.start, 0);
      expect(bytes).toBeGreaterThanOrEqual(target);
      expect(bytes).toBeLessThan(target + 100); // overshoot: at most to the next line start
    }
  });

  it('never cuts a CRLF between CR and LF, and cuts after a lone CR', () => {
    const size = 3 * MIB;
    const crlf = Buffer.alloc(size, 'x');
    crlf[MIB - 1] = CR; // the planned cut (targetTasks 3 → target 1 MiB) falls between CR and LF
    crlf[MIB] = LF;
    crlf[2 * MIB + 9] = LF;
    const [first] = planTasks([{ size }], 3, finderOver([crlf]));
    expect(first![0]!.end).toBe(MIB + 1);

    const loneCr = Buffer.alloc(size, 'x');
    loneCr[MIB - 1] = CR;
    const tasks = planTasks([{ size }], 3, finderOver([loneCr]));
    expect(tasks[0]![0]!.end).toBe(MIB);
    expectExactCover(tasks, [size]);

    const lf = Buffer.alloc(size, 'x');
    lf[MIB + 5] = LF;
    expect(planTasks([{ size }], 3, finderOver([lf]))[0]![0]!.end).toBe(MIB + 6);
  });

  it('a file without any line break stays one range, however big', () => {
    const size = 3 * MIB;
    const file = Buffer.alloc(size, 'x');
    const tasks = planTasks([{ size }], 8, finderOver([file]));
    expect(tasks.flat()).toEqual([{ fileIndex: 0, start: 0, end: size }]);
  });

  it('empty files get no range; the others are still covered', () => {
    const files = [Buffer.alloc(0), bigFile(2 * MIB, 2), Buffer.alloc(0), Buffer.from('a\nb\n')];
    const sizes = files.map((f) => f.length);
    const tasks = planTasks(
      sizes.map((size) => ({ size })),
      4,
      finderOver(files),
    );
    expectExactCover(tasks, sizes);
    expect(tasks.flat().some((r) => r.fileIndex === 0 || r.fileIndex === 2)).toBe(false);
    expect(planTasks([], 4, () => 0)).toEqual([]);
    expect(planTasks([{ size: 0 }], 4, () => 0)).toEqual([]);
  });

  it('covers every byte exactly once with cuts on line starts, for random file sets and task counts', () => {
    const random = seeded(41);
    const pool = [bigFile(3 * MIB, 3), bigFile(MIB + 17, 4), Buffer.from('u1,view,0,1\r\n'), bigFile(200_000, 5), Buffer.alloc(0)];
    for (let trial = 0; trial < 25; trial++) {
      const files = Array.from({ length: random.between(1, 6) }, () => random.pick(pool));
      const sizes = files.map((f) => f.length);
      const tasks = planTasks(
        sizes.map((size) => ({ size })),
        random.between(1, 16),
        finderOver(files),
      );
      expectExactCover(tasks, sizes);
      for (const range of tasks.flat()) if (range.start > 0) expect(isLineStart(files[range.fileIndex]!, range.start)).toBe(true);
      // and it is deterministic
      expect(
        planTasks(
          sizes.map((size) => ({ size })),
          3,
          finderOver(files),
        ),
      ).toEqual(
        planTasks(
          sizes.map((size) => ({ size })),
          3,
          finderOver(files),
        ),
      );
    }
  });

  it('parsing the planned ranges separately gives the whole-file result, bad-row line numbers included', () => {
    const file = bigFile(4 * MIB, 6);
    const whole = new UserAggTable();
    const wholeParser = parseWhole(file, whole);
    expect(wholeParser.badRows.length).toBeGreaterThan(10);
    for (const targetTasks of [2, 3, 4, 7]) {
      const ranges = planTasks([{ size: file.length }], targetTasks, finderOver([file])).flat();
      expect(ranges.length).toBeGreaterThan(1);
      const table = new UserAggTable();
      const bad: [number, string][] = [];
      let linesBefore = 0;
      let rows = 0;
      for (const range of ranges.sort((a, b) => a.start - b.start)) {
        const parser = new EventParser(table, { atFileStart: range.start === 0, keepBadRows: true, stopAtFirstBadRow: false, bucketSeconds: 3_600 });
        parser.consume(file.subarray(range.start, range.end), 0, range.end - range.start, true);
        for (const row of parser.badRows) bad.push([row.line + linesBefore, row.reason]);
        linesBefore += parser.lineCount;
        rows += parser.counts.rows;
      }
      expect(table.toSortedTotals()).toEqual(whole.toSortedTotals());
      expect(bad).toEqual(wholeParser.badRows.map((r) => [r.line, r.reason]));
      expect(rows).toBe(wholeParser.counts.rows);
      expect(linesBefore).toBe(wholeParser.lineCount);
    }
  });
});
