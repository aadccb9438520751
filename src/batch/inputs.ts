// The batch layer's master dataset: batch_input/*.csv plus every logged stream file up to a watermark, in compacted
// master files or still in stream_input/.

import fs from 'node:fs';
import path from 'node:path';
import { LambdaflowError } from '../core/errors.js';
import { readCompactions } from '../io/compactions.js';
import { readIngestLog } from '../io/ingest-log.js';
import { type DataLayout, isInputFileName } from '../io/layout.js';
import { type Logger } from '../io/logger.js';
import { notRegularFile } from '../io/read-range.js';

export interface InputFile {
  /** Name shown in messages and used for the quarantine file. */
  readonly name: string;
  readonly path: string;
  /** Bytes to read: the whole file for batch input, the logged size for stream files. */
  readonly size: number;
  readonly source: 'batch_input' | 'stream_input' | 'master';
}

/**
 * Regular `*.csv` files directly in a folder, sorted by name. Links are not followed: a symbolic link (to a file or a
 * directory, inside or outside the data folder), a directory, a FIFO or a device named `x.csv` is skipped with one
 * warning naming it, so the master dataset is exactly the regular files of the folder.
 */
export function listCsvFiles(dir: string, logger: Logger): { name: string; path: string; size: number }[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new LambdaflowError('E_INPUT', `cannot list ${dir}: ${(error as Error).message}`, { file: dir });
  }
  const files: { name: string; path: string; size: number }[] = [];
  for (const name of names.filter(isInputFileName).sort()) {
    const file = path.join(dir, name);
    let stat: fs.Stats;
    try {
      stat = fs.lstatSync(file);
    } catch (error) {
      logger.warn(`skipping ${file}: ${(error as Error).message}`);
      continue;
    }
    const refused = notRegularFile(stat);
    if (refused !== undefined) {
      logger.warn(`skipping ${file}: ${refused}`);
      continue;
    }
    files.push({ name, path: file, size: stat.size });
  }
  return files;
}

/**
 * The master dataset through ingest seq `watermark` (default: the log's last seq, which the batch records as its
 * watermark): batch_input/*.csv, the compacted master files for the seqs they hold (a prefix of the last one when the
 * watermark falls inside it), then the logged stream files not yet compacted, each read up to its logged size.
 */
export function collectBatchInputs(layout: DataLayout, logger: Logger, watermark?: number): { inputs: InputFile[]; watermark: number } {
  const inputs: InputFile[] = listCsvFiles(layout.batchInput, logger).map((f) => ({ ...f, source: 'batch_input' as const }));
  const log = readIngestLog(layout.ingestLog);
  const compactions = readCompactions(layout.compactions);
  if (log.compactedThrough > compactions.compactedThrough) {
    throw new LambdaflowError('E_STATE', `the ingest log is folded through seq ${log.compactedThrough} but ${layout.compactions} records only seqs up to ${compactions.compactedThrough}`, { file: layout.compactions });
  }
  const through = watermark ?? log.lastSeq;
  if (through > log.lastSeq) throw new LambdaflowError('E_OPTIONS', `--watermark ${through} is past the ingest log's last seq ${log.lastSeq}`, { flag: 'watermark' });
  for (const compacted of compactions.files) {
    if (compacted.first > through) break;
    const size = compacted.last <= through ? compacted.bytes : compacted.seqEnds[through - compacted.first]!;
    inputs.push({ name: compacted.file, path: path.join(layout.masterStream, compacted.file), size, source: 'master' });
  }
  for (const entry of log.entries) {
    if (entry.seq <= compactions.compactedThrough) continue;
    if (entry.seq > through) break;
    const file = path.join(layout.streamInput, entry.name);
    let stat: fs.Stats;
    try {
      stat = fs.lstatSync(file);
    } catch {
      throw new LambdaflowError('E_STATE', `stream file ${entry.name} (ingest seq ${entry.seq}) is missing from ${layout.streamInput}; it is part of the master dataset`, { file });
    }
    const refused = notRegularFile(stat);
    if (refused !== undefined) {
      throw new LambdaflowError('E_INPUT', `ingested stream file ${file} (seq ${entry.seq}) is no longer a regular file: ${refused}`, { file });
    }
    const size = stat.size;
    if (size < entry.size) {
      throw new LambdaflowError('E_STATE', `stream file ${entry.name} (ingest seq ${entry.seq}) shrank from ${entry.size} to ${size} bytes after it was ingested`, { file });
    }
    inputs.push({ name: entry.name, path: file, size: entry.size, source: 'stream_input' });
  }
  return { inputs, watermark: through };
}
