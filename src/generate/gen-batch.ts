// gen-batch: writes deterministic historical CSV files into batch_input/, each atomically.

import fs from 'node:fs';
import path from 'node:path';
import { LambdaflowError } from '../core/errors.js';
import { EventGenerator, type GeneratedCounts } from '../core/event-generator.js';
import { HEADER_LINE } from '../core/event-parser.js';
import { FileInProgress } from '../io/files/atomic.js';

const ROWS_PER_WRITE = 50_000;

export interface GenBatchConfig {
  readonly rows: number;
  readonly files: number;
  readonly users: number;
  readonly seed: number;
  readonly force: boolean;
  /** Rows are spread evenly over [startSeconds, startSeconds + spanSeconds), in increasing order. */
  readonly startSeconds: number;
  readonly spanSeconds: number;
}

export interface GenBatchResult extends GeneratedCounts {
  readonly files: readonly string[];
  readonly bytes: number;
}

/** Everything in the folder but placeholders: what --force is needed to replace. */
function userFiles(dir: string): string[] {
  return fs.readdirSync(dir).filter((name) => name !== '.gitkeep');
}

/** Writes the files; `onProgress` hears the rows written so far, every ROWS_PER_WRITE rows. */
export function generateBatchFiles(dir: string, config: GenBatchConfig, onProgress?: (rowsWritten: number, rowsTotal: number) => void): GenBatchResult {
  fs.mkdirSync(dir, { recursive: true });
  const existing = userFiles(dir);
  if (existing.length > 0) {
    if (!config.force) {
      throw new LambdaflowError('E_INPUT', `${dir} is not empty (${existing.length} entries); pass --force to replace its .csv files`, { file: dir });
    }
    for (const name of existing.filter((n) => n.endsWith('.csv'))) fs.rmSync(path.join(dir, name), { force: true });
  }
  const generator = new EventGenerator(config.seed, config.users);
  const rowsPerSecond = Math.max(config.rows, 1) / config.spanSeconds;
  const counts: GeneratedCounts = { rows: 0, purchases: 0 };
  const files: string[] = [];
  let bytes = 0;
  let row = 0;
  for (let f = 0; f < config.files; f++) {
    const rowsInFile = Math.floor(config.rows / config.files) + (f < config.rows % config.files ? 1 : 0);
    const name = `events-${String(f).padStart(5, '0')}.csv`;
    const file = FileInProgress.create(dir, name);
    try {
      bytes += fs.writeSync(file.fd, `${HEADER_LINE}\n`);
      for (let written = 0; written < rowsInFile;) {
        const n = Math.min(ROWS_PER_WRITE, rowsInFile - written);
        bytes += fs.writeSync(file.fd, generator.lines(n, config.startSeconds, rowsPerSecond, row, counts));
        written += n;
        row += n;
        onProgress?.(row, config.rows);
      }
      file.sync();
      files.push(file.publish(name));
    } catch (error) {
      file.discard();
      throw error;
    }
  }
  return { ...counts, files, bytes };
}
