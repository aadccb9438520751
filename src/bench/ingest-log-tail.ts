// Which stream file each ingest seq is, for benchmarks that time a file from its rename to the first view covering it.

import fs from 'node:fs';
import { LambdaflowError } from '../core/errors.js';
import { type IngestEntry } from '../io/logs/ingest-log.js';

/** Ingest-log entries read as the log grows, from where the last read stopped: seq → file name. */
export class IngestLogTail {
  private offset = 0;
  private readonly names: string[] = [];

  constructor(private readonly file: string) {}

  /** The name of ingest seq `seq` (1-based), reading newly appended complete lines when needed. */
  nameOf(seq: number): string {
    if (seq > this.names.length) this.readNew();
    const name = this.names[seq - 1];
    if (name === undefined) throw new LambdaflowError('E_STATE', `ingest seq ${seq} is not in ${this.file}`);
    return name;
  }

  private readNew(): void {
    const fd = fs.openSync(this.file, 'r');
    try {
      const appended = Buffer.alloc(fs.fstatSync(fd).size - this.offset);
      const read = fs.readSync(fd, appended, 0, appended.length, this.offset);
      const complete = appended.lastIndexOf(0x0a, read - 1) + 1;
      for (const line of appended.subarray(0, complete).toString().split('\n').slice(0, -1)) {
        const entry = JSON.parse(line) as IngestEntry;
        this.names[entry.seq - 1] = entry.name;
      }
      this.offset += complete;
    } finally {
      fs.closeSync(fd);
    }
  }
}
