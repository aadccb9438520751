// Reading logged stream files for the speed layer: exactly their logged prefix, bad rows quarantined (or fatal in
// failfast mode), and read errors reported with the code that says what went wrong.

import path from 'node:path';
import { UserAggTable } from '../core/agg-table.js';
import { LambdaflowError } from '../core/errors.js';
import { type BadRowMode, totalBad } from '../core/event-parser.js';
import { type IngestEntry } from '../io/ingest-log.js';
import { type DataLayout } from '../io/layout.js';
import { type Logger } from '../io/logger.js';
import { writeQuarantine } from '../io/quarantine.js';
import { type RangeParse, parseFileRange } from '../io/read-range.js';
import { type LoggedFileReader, type ParsedFile } from './ports.js';

/** Checks a logged file's parse: its whole logged prefix was there, and no bad row in failfast mode. */
function checkLoggedParse(entry: IngestEntry, file: string, parsed: RangeParse, mode: BadRowMode): void {
  if (parsed.truncated) throw new LambdaflowError('E_STATE', `ingested stream file ${file} (seq ${entry.seq}) shrank below its logged size`, { file });
  const first = parsed.badRows[0];
  if (mode === 'failfast' && first) {
    throw new LambdaflowError('E_BAD_ROW', `bad row in ${file} at line ${first.line}: ${first.reason}`, { file, line: first.line, reason: first.reason });
  }
}

export class StreamFileReader implements LoggedFileReader {
  constructor(
    private readonly layout: DataLayout,
    private readonly mode: BadRowMode,
    private readonly logger: Logger,
  ) {}

  async read(entry: IngestEntry): Promise<ParsedFile> {
    const table = new UserAggTable(64);
    const file = path.join(this.layout.streamInput, entry.name);
    let parsed: RangeParse;
    try {
      parsed = parseFileRange(file, 0, entry.size, table, this.mode);
    } catch (error) {
      // A logged file that cannot be read is damaged state; a typed error from the read keeps its code (E_INPUT for a
      // file that is no longer regular, E_OVERFLOW, …) and gains the seq.
      const message = `cannot read ingested stream file ${file} (seq ${entry.seq}): ${(error as Error).message}`;
      if (error instanceof LambdaflowError) throw new LambdaflowError(error.code, message, { ...error.context, file }, { cause: error });
      throw new LambdaflowError('E_STATE', message, { file }, { cause: error });
    }
    checkLoggedParse(entry, file, parsed, this.mode);
    if (this.mode === 'permissive' && parsed.badRows.length > 0) {
      // The file is already in the master dataset: failing to record its bad rows must not stop its good rows.
      try {
        await writeQuarantine(this.layout, entry.name, parsed.badRows);
      } catch (error) {
        if (!(error instanceof LambdaflowError) || error.code !== 'E_WRITE') throw error;
        this.logger.error(`speed: ${parsed.badRows.length} bad rows of ${entry.name} counted but not quarantined (the next batch run writes them): ${error.message}`);
      }
    }
    return { entry, table, rows: parsed.counts.rows, badRows: totalBad(parsed.counts) };
  }
}
