// The append-only ingest log: which stream files joined the master dataset, in what order (seq), with what size.

import fs from 'node:fs';
import path from 'node:path';
import { LambdaflowError } from '../core/errors.js';

export interface IngestEntry {
  readonly seq: number;
  readonly name: string;
  /** Bytes of the file that were ingested; every layer reads exactly this prefix, even if the file grew later. */
  readonly size: number;
  /** The micro-batch time the file was ingested in: decides its slide. */
  readonly ingestedAtMs: number;
}

function isEntry(value: unknown): value is IngestEntry {
  if (value === null || typeof value !== 'object') return false;
  const e = value as Record<string, unknown>;
  return Number.isInteger(e.seq) && typeof e.name === 'string' && Number.isInteger(e.size) && Number.isInteger(e.ingestedAtMs);
}

/**
 * Reads the log. A last line without its newline is a write cut short by a crash: it was never acknowledged, so it
 * is ignored (and the writer truncates it). Any other unreadable line means the log is damaged: an error.
 */
export function readIngestLog(logPath: string): { entries: IngestEntry[]; validBytes: number } {
  let text: string;
  try {
    text = fs.readFileSync(logPath, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { entries: [], validBytes: 0 };
    throw new LambdaflowError('E_STATE', `cannot read the ingest log ${logPath}: ${(error as Error).message}`, { file: logPath });
  }
  const validBytes = text.lastIndexOf('\n') + 1;
  const entries: IngestEntry[] = [];
  const lines = text.slice(0, validBytes).split('\n');
  lines.pop();
  lines.forEach((line, i) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      parsed = undefined;
    }
    if (!isEntry(parsed) || parsed.seq !== (entries.at(-1)?.seq ?? 0) + 1) {
      throw new LambdaflowError('E_STATE', `the ingest log ${logPath} is damaged at line ${i + 1}`, { file: logPath, line: i + 1 });
    }
    entries.push(parsed);
  });
  return { entries, validBytes: Buffer.byteLength(text.slice(0, validBytes)) };
}

/** The writer side, owned by the one speed layer holding the lock. */
export class IngestLogWriter {
  private constructor(
    private readonly fd: number,
    private lastSeq: number,
  ) {}

  static open(logPath: string): { writer: IngestLogWriter; entries: IngestEntry[] } {
    fs.mkdirSync(path.dirname(logPath), { recursive: true });
    const { entries, validBytes } = readIngestLog(logPath);
    const fd = fs.openSync(logPath, 'a+');
    if (fs.fstatSync(fd).size !== validBytes) fs.ftruncateSync(fd, validBytes);
    return { writer: new IngestLogWriter(fd, entries.at(-1)?.seq ?? 0), entries };
  }

  get seq(): number {
    return this.lastSeq;
  }

  /** Durably appends entries for these files (fsync) and returns them with their sequence numbers. */
  append(files: readonly { name: string; size: number }[], ingestedAtMs: number): IngestEntry[] {
    const entries = files.map((f, i) => ({ seq: this.lastSeq + i + 1, name: f.name, size: f.size, ingestedAtMs }));
    if (entries.length === 0) return entries;
    const text = entries.map((e) => JSON.stringify(e)).join('\n') + '\n';
    const sizeBefore = fs.fstatSync(this.fd).size;
    try {
      fs.writeFileSync(this.fd, text); // loops until every byte is written, unlike one writeSync
      fs.fsyncSync(this.fd);
    } catch (cause) {
      // Nothing of a failed append may stay: a half line, or lines whose seqs would be appended again on retry.
      try {
        fs.ftruncateSync(this.fd, sizeBefore);
      } catch (truncateError) {
        throw new LambdaflowError('E_STATE', `the ingest log could not be restored after a failed append: ${(truncateError as Error).message}`, {}, { cause });
      }
      throw new LambdaflowError('E_WRITE', `cannot append to the ingest log: ${(cause as Error).message}`, {}, { cause });
    }
    this.lastSeq += entries.length;
    return entries;
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}
