// Realtime deltas: per-ingest-sequence user totals on disk, so a merge can subtract exactly what a batch absorbed.

import fs from 'node:fs';
import path from 'node:path';
import { type AggBlock, type UserAggTable } from '../core/agg-table.js';
import { type DeltaRange } from '../core/exact-merge.js';
import { forEachViewLine, formatBlock } from '../core/view-format.js';
import { writeFileAtomically } from './atomic.js';

const DELTA_PATTERN = /^delta-(\d+)-(\d+)\.csv$/;
const pad = (seq: number): string => String(seq).padStart(12, '0');

export interface SeqTotals {
  readonly seq: number;
  readonly block: AggBlock;
}

/** Writes one delta file covering the given sequence numbers (lines `seq,user_id,count,amount`). */
async function writeDeltaFile(deltasDir: string, items: readonly SeqTotals[]): Promise<void> {
  if (items.length === 0) return;
  const text = Buffer.concat(items.map(({ seq, block }) => formatBlock(block, `${seq},`)));
  const first = items[0]!.seq;
  const last = items.at(-1)!.seq;
  await writeFileAtomically(path.join(deltasDir, `delta-${pad(first)}-${pad(last)}.csv`), text);
}

function listDeltaFiles(deltasDir: string): { file: string; first: number; last: number }[] {
  let names: string[];
  try {
    names = fs.readdirSync(deltasDir);
  } catch {
    return [];
  }
  return names
    .map((name) => ({ name, match: DELTA_PATTERN.exec(name) }))
    .filter((x): x is { name: string; match: RegExpExecArray } => x.match !== null)
    .map(({ name, match }) => ({ file: path.join(deltasDir, name), first: Number(match[1]), last: Number(match[2]) }))
    .sort((a, b) => a.first - b.first || a.last - b.last);
}

/**
 * Adds (sign 1) or subtracts (sign -1) the deltas of sequence numbers in (afterSeq, throughSeq] into the table.
 * A sequence number found in two files (rewritten during recovery) counts once. Returns the sequence numbers found.
 */
function mergeDeltas(deltasDir: string, afterSeq: number, throughSeq: number, table: UserAggTable, sign: 1 | -1): Set<number> {
  const done = new Set<number>();
  for (const { file, first, last } of listDeltaFiles(deltasDir)) {
    if (last <= afterSeq || first > throughSeq) continue;
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(file);
    } catch {
      continue; // removed since listed: its sequence numbers are reported missing below
    }
    const inFile = new Set<number>();
    forEachViewLine(bytes, file, 1, (prefix, key, start, end, count, cents) => {
      const seq = prefix[0]!;
      if (seq <= afterSeq || seq > throughSeq || done.has(seq)) return;
      inFile.add(seq);
      table.add(key, start, end, sign * count, sign * cents);
    });
    for (let seq = Math.max(first, afterSeq + 1); seq <= Math.min(last, throughSeq); seq++) inFile.add(seq);
    for (const seq of inFile) done.add(seq);
  }
  return done;
}

/** Removes delta files every one of whose sequence numbers is at or below `throughSeq`. */
function pruneDeltas(deltasDir: string, throughSeq: number): void {
  for (const { file, last } of listDeltaFiles(deltasDir)) if (last <= throughSeq) fs.rmSync(file, { force: true });
}

/** Sequence numbers that some delta file already covers. */
function coveredSeqs(deltasDir: string): Set<number> {
  const covered = new Set<number>();
  for (const { first, last } of listDeltaFiles(deltasDir)) for (let seq = first; seq <= last; seq++) covered.add(seq);
  return covered;
}

/** The deltas folder as the speed layer and the merger use it. */
export class DeltaFiles {
  constructor(readonly dir: string) {}

  write(items: readonly SeqTotals[]): Promise<void> {
    return writeDeltaFile(this.dir, items);
  }

  merge(range: DeltaRange, table: UserAggTable): Set<number> {
    return mergeDeltas(this.dir, range.afterSeq, range.throughSeq, table, range.sign);
  }

  prune(throughSeq: number): void {
    pruneDeltas(this.dir, throughSeq);
  }

  covered(): Set<number> {
    return coveredSeqs(this.dir);
  }
}
