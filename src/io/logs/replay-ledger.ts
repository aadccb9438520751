// The replay ledger of one input's quarantine, `<data>/quarantine/<input-name>.replayed`: one JSON line per row that
// replay-quarantine put back into the master dataset, {"line","sha256","file"} — the row's line number in its input
// (its identity), the SHA-256 of the fixed row's bytes, and the replay file in stream_input/ that carries it.
//
// A line is appended (fsync) before its replay file is renamed into stream_input/, and it counts only while that
// file is there: a line whose file never appeared (the writer died in between) is void. So a row has been replayed
// exactly when some line for it names an existing replay file — a fact every reader (replay-quarantine, and the
// layers that rewrite quarantine files) checks the same way.

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { type DataLayout, replayLedgerPath } from '../files/layout.js';
import { appendJsonLines, readJsonLines } from './json-lines.js';

export interface ReplayLedgerEntry {
  readonly line: number;
  readonly sha256: string;
  readonly file: string;
}

function isEntry(value: unknown): value is ReplayLedgerEntry {
  if (value === null || typeof value !== 'object') return false;
  const e = value as Record<string, unknown>;
  return (
    Number.isSafeInteger(e.line) && (e.line as number) > 0 && typeof e.sha256 === 'string' && typeof e.file === 'string' && e.file === path.basename(e.file)
  );
}

/** The digest a ledger line keeps of a fixed row. */
export function rowDigest(row: Uint8Array): string {
  return crypto.createHash('sha256').update(row).digest('hex');
}

/**
 * Every line of a ledger, void ones included. A last line without its newline is an append cut short by a crash,
 * never followed by its replay file: ignored (and cut off by the next append). Any other unreadable line: E_STATE.
 */
export function readReplayLedger(ledgerPath: string): { entries: ReplayLedgerEntry[]; validBytes: number } {
  const entries: ReplayLedgerEntry[] = [];
  const validBytes = readJsonLines(ledgerPath, `the replay ledger ${ledgerPath}`, (value) => {
    if (!isEntry(value)) return false;
    entries.push(value);
    return true;
  });
  return { entries, validBytes };
}

/** The rows of an input already replayed, by line number: the ledger lines whose replay file is in stream_input/. */
export function replayedRows(layout: DataLayout, inputName: string): Map<number, ReplayLedgerEntry> {
  const replayed = new Map<number, ReplayLedgerEntry>();
  const present = new Map<string, boolean>();
  for (const entry of readReplayLedger(replayLedgerPath(layout, inputName)).entries) {
    let there = present.get(entry.file);
    if (there === undefined) {
      there = fs.lstatSync(path.join(layout.streamInput, entry.file), { throwIfNoEntry: false })?.isFile() === true;
      present.set(entry.file, there);
    }
    if (there && !replayed.has(entry.line)) replayed.set(entry.line, entry);
  }
  return replayed;
}

/** Durably appends lines (fsync; the folder too when the ledger is new), first cutting off a line a crash left half written. */
export function appendReplayLedger(ledgerPath: string, entries: readonly ReplayLedgerEntry[]): void {
  if (entries.length === 0) return;
  const lines = entries.map((e) => ({ line: e.line, sha256: e.sha256, file: e.file }));
  appendJsonLines(ledgerPath, `the replay ledger ${ledgerPath}`, readReplayLedger(ledgerPath).validBytes, lines);
}
