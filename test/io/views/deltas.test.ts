// Realtime delta files read back, at once or in steps: every seq of the range once, its users' totals as written,
// and a damaged line named by its line number in the file whatever step it falls in.

import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DELTAS_HEADER, DeltaFiles, type SeqTotals } from '../../../src/io/views/deltas.js';
import { ALL_TIME, UserAggTable } from '../../../src/core/agg-table.js';
import { LambdaflowError } from '../../../src/core/errors.js';
import { seeded } from '../../helpers/prng.js';
import { tempRoots } from '../../helpers/temp-dirs.js';

const tempRoot = tempRoots();
const tempDir = (): string => tempRoot('deltas-').data;

type Line = readonly [seq: number, userId: string, count: number, cents: number];

const amount = (cents: number): string => `${cents < 0 ? '-' : ''}${Math.floor(Math.abs(cents) / 100)}.${String(Math.abs(cents) % 100).padStart(2, '0')}`;
const text = (lines: readonly Line[]): string => lines.map(([seq, id, count, cents]) => `${seq},${id},${count},${amount(cents)}\n`).join('');

/** Lines of seqs first..last, `users` users each, ids of every length up to 12 characters. */
function linesOf(first: number, last: number, users: number, seed: number): Line[] {
  const random = seeded(seed);
  const lines: Line[] = [];
  for (let seq = first; seq <= last; seq++) {
    const ids = new Set<string>();
    while (ids.size < users) ids.add(`u${random.between(0, 10 ** random.between(1, 11))}`);
    for (const id of ids) lines.push([seq, id, random.between(1, 9), random.between(-500, 10 ** 7)]);
  }
  return lines;
}

function writeDeltaFile(dir: string, first: number, last: number, content: string): void {
  fs.writeFileSync(path.join(dir, `delta-${String(first).padStart(12, '0')}-${String(last).padStart(12, '0')}.csv`), content);
}

/** Each seq's lines as [userId, count, cents], sorted: what a reader must give back. */
function bySeq(lines: readonly Line[]): Map<number, [string, number, number][]> {
  const seqs = new Map<number, [string, number, number][]>();
  for (const [seq, id, count, cents] of lines) seqs.set(seq, [...(seqs.get(seq) ?? []), [id, count, cents]]);
  for (const users of seqs.values()) users.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return seqs;
}

function readBack(items: readonly SeqTotals[]): Map<number, [string, number, number][]> {
  const seqs = new Map<number, [string, number, number][]>();
  for (const { seq, block } of items) {
    const users: [string, number, number][] = [];
    let start = 0;
    block.keyEnds.forEach((end, i) => {
      users.push([Buffer.from(block.keys.subarray(start, end)).toString(), block.counts[i]!, block.cents[i]!]);
      start = end;
    });
    seqs.set(seq, users.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)));
  }
  return seqs;
}

/** Runs a reader in steps to its end; returns what it read and how many steps it took. */
function inSteps(deltas: DeltaFiles, afterSeq: number, throughSeq: number): { items: SeqTotals[]; steps: number } {
  const reading = deltas.readInSteps(afterSeq, throughSeq);
  for (let steps = 1; ; steps++) {
    const step = reading.next();
    if (step.done) return { items: step.value, steps };
  }
}

describe('DeltaFiles.readInSteps', () => {
  it('reads a file many steps long as read does at once: each seq of the range once, with its users', () => {
    const dir = tempDir();
    // ~1 MB: seqs 1–40 of 1,000 users each, then a recovery's rewrite of seqs 31–45 (31–40 count once).
    const lines = linesOf(1, 40, 1_000, 1);
    const rewritten = linesOf(31, 45, 300, 2);
    writeDeltaFile(dir, 1, 40, text(lines));
    writeDeltaFile(dir, 31, 45, text([...lines.filter(([seq]) => seq >= 31), ...rewritten.filter(([seq]) => seq > 40)]));
    const deltas = new DeltaFiles(dir, 3_600);
    const { items, steps } = inSteps(deltas, 5, 42);
    expect(steps).toBeGreaterThan(1_000_000 / (1 << 17));
    expect(items.map((i) => i.seq)).toEqual(Array.from({ length: 37 }, (_, i) => 6 + i));
    const expected = bySeq([...lines, ...rewritten.filter(([seq]) => seq > 40)].filter(([seq]) => seq > 5 && seq <= 42));
    expect(readBack(items)).toEqual(expected);
    expect(readBack(deltas.read(5, 42))).toEqual(expected);
  });

  it('names a damaged line by its line number in the file, in a later step too', () => {
    const dir = tempDir();
    const lines = linesOf(1, 20, 1_000, 3);
    const damagedAt = lines.length - 10;
    const content = text(lines).split('\n');
    content[damagedAt - 1] = '7,u1,not-a-count,1.00';
    writeDeltaFile(dir, 1, 20, content.join('\n'));
    const file = path.join(dir, `delta-${String(1).padStart(12, '0')}-${String(20).padStart(12, '0')}.csv`);
    for (const read of [() => inSteps(new DeltaFiles(dir, 3_600), 0, 20), () => new DeltaFiles(dir, 3_600).read(0, 20)]) {
      const error = (() => {
        try {
          read();
        } catch (caught) {
          return caught as LambdaflowError;
        }
        return undefined;
      })();
      expect(error).toBeInstanceOf(LambdaflowError);
      expect(error!.message).toBe(`damaged view file ${file} at line ${damagedAt}`);
    }
  });
});

describe('delta files with buckets, and from before buckets', () => {
  it('reads a file with the header per (user, bucket), and a file without one over all time', () => {
    const dir = tempDir();
    writeDeltaFile(dir, 1, 1, `${DELTAS_HEADER}\n1,u1,3600,2,3.00\n1,u1,7200,1,1.00\n1,"a,b",0,1,0.50\n`);
    writeDeltaFile(dir, 2, 2, '2,u1,4,4.00\n');
    const table = new UserAggTable();
    expect([...new DeltaFiles(dir, 3_600).merge({ afterSeq: 0, throughSeq: 2, sign: 1 }, table)].sort()).toEqual([1, 2]);
    expect(table.toSortedBucketTotals()).toEqual([
      { userId: 'a,b', bucket: 0, count: 1, cents: 50 },
      { userId: 'u1', bucket: 1, count: 2, cents: 300 },
      { userId: 'u1', bucket: 2, count: 1, cents: 100 },
      { userId: 'u1', bucket: ALL_TIME, count: 4, cents: 400 },
    ]);
  });

  it('writes the header before the lines it is given, and reads them back', async () => {
    const dir = tempDir();
    const deltas = new DeltaFiles(dir, 60);
    await deltas.write(5, 5, Buffer.from('5,u,120,1,1.00\n'));
    expect(fs.readFileSync(path.join(dir, `delta-${String(5).padStart(12, '0')}-${String(5).padStart(12, '0')}.csv`), 'utf8')).toBe(`${DELTAS_HEADER}\n5,u,120,1,1.00\n`);
    expect(readBack(deltas.read(4, 5))).toEqual(new Map([[5, [['u', 1, 100]]]]));
  });
});
