// Realtime delta files read back, at once or in steps: every seq of the range once, its users' totals as written,
// and a damaged line named by its line number in the file whatever step it falls in.

import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
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

const deltaPath = (dir: string, first: number, last: number): string =>
  path.join(dir, `delta-${String(first).padStart(12, '0')}-${String(last).padStart(12, '0')}.csv`);

function writeDeltaFile(dir: string, first: number, last: number, content: string | Uint8Array): void {
  fs.writeFileSync(deltaPath(dir, first, last), content);
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
    seqs.set(
      seq,
      users.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)),
    );
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
  it('reads a file with the header per (user, bucket), and a file without one over all time', async () => {
    const dir = tempDir();
    await new DeltaFiles(dir, 3_600).write(1, 1, Buffer.from('1,u1,3600,2,3.00\n1,u1,7200,1,1.00\n1,"a,b",0,1,0.50\n'));
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

  it('writes the header before the lines it is given and its trailer after them, and reads them back', async () => {
    const dir = tempDir();
    const deltas = new DeltaFiles(dir, 60);
    await deltas.write(5, 5, Buffer.from('5,u,120,1,1.00\n'));
    const body = `${DELTAS_HEADER}\n5,u,120,1,1.00\n`;
    const written = fs.readFileSync(deltaPath(dir, 5, 5), 'utf8');
    expect(written).toBe(`${body}#trailer {"lines":2,"crc32":${zlib.crc32(body)}}\n`);
    expect(readBack(deltas.read(4, 5))).toEqual(new Map([[5, [['u', 1, 100]]]]));
  });
});

describe('delta files prove themselves: every damaged file is refused, naming it', () => {
  const bucketSeconds = 3_600;
  /** Seqs 1..3 of 60 users each, with buckets, as DeltaFiles.write writes them (with each seq's event time). */
  async function intactFile(dir: string): Promise<{ bytes: Buffer; lines: Line[] }> {
    const lines = linesOf(1, 3, 60, 7);
    const text = lines.map(([seq, id, count, cents], i) => `${seq},${id},${(i % 5) * bucketSeconds},${count},${amount(cents)}\n`).join('');
    await new DeltaFiles(dir, bucketSeconds).write(
      1,
      3,
      Buffer.from(text),
      [1, 2, 3].map((seq) => ({ maxEventSecond: seq * 1_000, lateRows: 0 })),
    );
    return { bytes: fs.readFileSync(deltaPath(dir, 1, 3)), lines };
  }

  /** Every way the file is read: at once, in steps, its event time, and speed's check at recovery (which removes it). */
  function expectRefused(dir: string, bytes: Uint8Array, problem: RegExp): void {
    const file = deltaPath(dir, 1, 3);
    const deltas = new DeltaFiles(dir, bucketSeconds);
    writeDeltaFile(dir, 1, 3, bytes);
    for (const read of [
      () => deltas.read(0, 3),
      () => inSteps(deltas, 0, 3),
      () => deltas.eventTimes(0, 3),
      () => deltas.merge({ afterSeq: 0, throughSeq: 3, sign: 1 }, new UserAggTable()),
    ]) {
      const error = (() => {
        try {
          read();
        } catch (caught) {
          return caught;
        }
        return undefined;
      })() as LambdaflowError | undefined;
      expect(error, `${bytes.length} bytes`).toBeInstanceOf(LambdaflowError);
      expect(error!.code).toBe('E_STATE');
      expect(error!.message).toMatch(`damaged delta file ${file}: `);
      expect(error!.message).toMatch(problem);
    }
    expect(deltas.removeDamaged()).toEqual([expect.stringContaining(file)]);
    expect(fs.existsSync(file)).toBe(false);
  }

  it('a delta file that is a link (to an intact file elsewhere) is never read through: refused, and removed (the link, not its target)', async () => {
    const dir = tempDir();
    const elsewhere = tempDir();
    await intactFile(elsewhere);
    const target = deltaPath(elsewhere, 1, 3);
    fs.mkdirSync(dir, { recursive: true });
    fs.symlinkSync(target, deltaPath(dir, 1, 3));
    const deltas = new DeltaFiles(dir, bucketSeconds);
    // Read as absent (its seqs are then missing, which the exact merge refuses as a gap), never through the link.
    expect(deltas.read(0, 3)).toEqual([]);
    expect(deltas.removeDamaged()).toEqual([expect.stringMatching(/is a symbolic link \(links are not followed\)/)]);
    expect([fs.existsSync(deltaPath(dir, 1, 3)), fs.existsSync(target)]).toEqual([false, true]);
  });

  it('reads an intact file back whole, with its event time, and removeDamaged keeps it', async () => {
    const dir = tempDir();
    const { lines } = await intactFile(dir);
    const deltas = new DeltaFiles(dir, bucketSeconds);
    expect(deltas.removeDamaged()).toEqual([]);
    const table = new UserAggTable();
    deltas.merge({ afterSeq: 0, throughSeq: 3, sign: 1 }, table);
    const cents = lines.reduce((sum, [, , , c]) => sum + c, 0);
    expect(table.toSortedBucketTotals().reduce((sum, t) => sum + t.cents, 0)).toBe(cents);
    expect([...deltas.eventTimes(0, 3).keys()]).toEqual([1, 2, 3]);
  });

  it('refuses a file cut so that its last line still parses (…,335.32 → …,335.3: lines lost, nothing logged before)', async () => {
    const dir = tempDir();
    const { bytes } = await intactFile(dir);
    const lastLineEnd = bytes.lastIndexOf('\n', bytes.lastIndexOf('#trailer') - 1);
    const cut = bytes.lastIndexOf('\n', lastLineEnd - 1 - 40 * 20) + 1;
    // A line of the middle, cut one digit short: every byte before it still parses.
    const lineEnd = bytes.indexOf('\n', cut);
    expect(bytes.subarray(cut, lineEnd).toString()).toMatch(/\.\d\d$/);
    expectRefused(dir, bytes.subarray(0, lineEnd - 1), /last line is not a #trailer/);
  });

  it('refuses it truncated at line boundaries and inside lines (header, data, trailer)', async () => {
    const dir = tempDir();
    const { bytes } = await intactFile(dir);
    const boundaries = [...bytes.entries()]
      .filter(([, b]) => b === 0x0a)
      .map(([i]) => i + 1)
      .slice(0, -1);
    const random = seeded(11);
    const lineCuts = Array.from({ length: 20 }, () => random.pick(boundaries));
    const midCuts = Array.from({ length: 20 }, () => random.between(1, bytes.length - 1)).filter((at) => !boundaries.includes(at));
    // The first line boundary (header only) and the trailer's start (the data complete, no trailer), and inside the trailer.
    const trailerAt = bytes.lastIndexOf('#trailer');
    for (const at of [boundaries[0]!, trailerAt, trailerAt + 12, bytes.length - 2, bytes.length - 1, 10, ...lineCuts, ...midCuts]) {
      expectRefused(dir, bytes.subarray(0, at), /./);
    }
  });

  it.each([
    ['an empty file', () => Buffer.alloc(0), /it is empty/],
    ['a file with only the header', () => Buffer.from(`${DELTAS_HEADER}\n`), /not a #trailer/],
    ['a bucketed file from before trailers (no trailer)', (b: Buffer) => b.subarray(0, b.lastIndexOf('#trailer')), /not a #trailer/],
    [
      'a bucketed file from before trailers (#event-time)',
      (b: Buffer) => Buffer.concat([b.subarray(0, b.lastIndexOf('#trailer')), Buffer.from('#event-time {"first":1,"seqs":[[1000,0],[2000,0],[3000,0]]}\n')]),
      /not a complete #trailer/,
    ],
    [
      'a line dropped whole',
      (b: Buffer) => Buffer.concat([b.subarray(0, b.indexOf('\n', 200) + 1), b.subarray(b.indexOf('\n', b.indexOf('\n', 200) + 1) + 1)]),
      /expected 181 lines, found 180 before its trailer/,
    ],
    [
      'a line doubled',
      (b: Buffer) => Buffer.concat([b.subarray(0, b.indexOf('\n', b.indexOf('\n', 200) + 1) + 1), b.subarray(b.indexOf('\n', 200) + 1)]),
      /expected 181 lines, found 182 before its trailer/,
    ],
  ])('refuses %s', async (_name, damage, problem) => {
    const dir = tempDir();
    const { bytes } = await intactFile(dir);
    expectRefused(dir, damage(bytes), problem);
  });

  it('refuses a flipped byte anywhere: header, a digit, a user id, a newline, the trailer', async () => {
    const dir = tempDir();
    const { bytes } = await intactFile(dir);
    const random = seeded(5);
    const trailerAt = bytes.lastIndexOf('#trailer');
    const positions = [
      3,
      DELTAS_HEADER.length,
      DELTAS_HEADER.length + 2,
      bytes.indexOf('\n', 400),
      trailerAt - 2,
      trailerAt + 20,
      ...Array.from({ length: 20 }, () => random.int(bytes.length - 1)),
    ];
    for (const at of positions) {
      for (const flip of [0x01, 0x10]) {
        const damaged = Buffer.from(bytes);
        damaged[at] = damaged[at]! ^ flip;
        expectRefused(dir, damaged, /./);
      }
    }
  });
});
