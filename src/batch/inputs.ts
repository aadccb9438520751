// The batch layer's master dataset: batch_input/*.csv plus every logged stream file up to a watermark, in compacted
// master files or still in stream_input/.

import fs from 'node:fs';
import path from 'node:path';
import { LambdaflowError } from '../core/errors.js';
import { readCompactions } from '../io/logs/compactions.js';
import { type IngestEntry, readIngestLog } from '../io/logs/ingest-log.js';
import { DEFAULT_STREAM, type DataLayout, MASTER_ENTRY_PREFIX, isInputFileName, loggedFilePath, partitionStreams, streamLayout } from '../io/files/layout.js';
import { type Logger } from '../io/runtime/logger.js';
import { notRegularFile } from '../io/files/read-range.js';

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

/** The master dataset's files, and the last seq of each stream's ingest log they include. */
export interface MasterDataset {
  readonly inputs: InputFile[];
  /** The default stream's watermark: the batch view's `streamWatermark`. */
  readonly watermark: number;
  /** Each NATS partition stream's watermark (`p0`, `p1`, …; empty without partitions): `streamWatermarks`. */
  readonly watermarks: Readonly<Record<string, number>>;
}

/**
 * The master dataset through ingest seq `watermark` of the default stream (default: its log's last seq, which the
 * batch records as its watermark): batch_input/*.csv, the compacted master files for the seqs they hold (a prefix of
 * the last one when the watermark falls inside it), then the logged stream files not yet compacted, each read up to
 * its logged size; then every NATS partition stream's logged files through its log's last seq.
 */
export function collectBatchInputs(layout: DataLayout, logger: Logger, watermark?: number): MasterDataset {
  const inputs: InputFile[] = listCsvFiles(layout.batchInput, logger).map((f) => ({ ...f, source: 'batch_input' as const }));
  const log = readIngestLog(layout.ingestLog);
  const compactions = readCompactions(layout.compactions);
  if (log.compactedThrough > compactions.compactedThrough) {
    throw new LambdaflowError(
      'E_STATE',
      `the ingest log is folded through seq ${log.compactedThrough} but ${layout.compactions} records only seqs up to ${compactions.compactedThrough}`,
      { file: layout.compactions },
    );
  }
  const through = watermark ?? log.lastSeq;
  if (through > log.lastSeq)
    throw new LambdaflowError('E_OPTIONS', `--watermark ${through} is past the ingest log's last seq ${log.lastSeq}`, { flag: 'watermark' });
  for (const compacted of compactions.files) {
    if (compacted.first > through) break;
    const size = compacted.last <= through ? compacted.bytes : compacted.seqEnds[through - compacted.first]!;
    inputs.push({ name: compacted.file, path: path.join(layout.masterStream, compacted.file), size, source: 'master' });
  }
  inputs.push(...loggedInputs(layout, log.entries, compactions.compactedThrough, through));
  const watermarks: Record<string, number> = {};
  for (const partition of partitionStreams(layout)) {
    const stream = streamLayout(layout, partition);
    const partitionLog = readIngestLog(stream.ingestLog);
    if (partitionLog.compactedThrough > 0)
      throw new LambdaflowError('E_STATE', `the ingest log ${stream.ingestLog} is folded, but partition streams are never compacted`, {
        file: stream.ingestLog,
      });
    inputs.push(...loggedInputs(stream, partitionLog.entries, 0, partitionLog.lastSeq));
    watermarks[stream.stream] = partitionLog.lastSeq;
  }
  return { inputs, watermark: through, watermarks };
}

/** A stream's logged files of seqs (compactedThrough, through], each checked and read up to its logged size. */
function loggedInputs(layout: DataLayout, entries: readonly IngestEntry[], compactedThrough: number, through: number): InputFile[] {
  const inputs: InputFile[] = [];
  for (const entry of entries) {
    if (entry.seq <= compactedThrough) continue;
    if (entry.seq > through) break;
    const file = loggedFilePath(layout, entry.name);
    const where = `${entry.name} (ingest seq ${entry.seq}${layout.stream === DEFAULT_STREAM ? '' : ` of stream ${layout.stream}`})`;
    let stat: fs.Stats;
    try {
      stat = fs.lstatSync(file);
    } catch {
      throw new LambdaflowError('E_STATE', `stream file ${where} is missing from ${path.dirname(file)}; it is part of the master dataset`, { file });
    }
    const refused = notRegularFile(stat);
    if (refused !== undefined) {
      throw new LambdaflowError('E_INPUT', `ingested stream file ${file} (seq ${entry.seq}) is no longer a regular file: ${refused}`, { file });
    }
    const size = stat.size;
    if (size < entry.size) {
      throw new LambdaflowError('E_STATE', `stream file ${where} shrank from ${entry.size} to ${size} bytes after it was ingested`, { file });
    }
    inputs.push({
      name: path.basename(entry.name),
      path: file,
      size: entry.size,
      source: entry.name.startsWith(MASTER_ENTRY_PREFIX) ? 'master' : 'stream_input',
    });
  }
  return inputs;
}
