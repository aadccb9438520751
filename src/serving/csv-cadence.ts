// merged_view.csv on its cadence: published every interval when the version changed since the last (or the file is
// gone), one write at a time; a write that fails is logged and done again at the next interval.

import fs from 'node:fs';
import { type Clock } from '../core/clock.js';
import { LambdaflowError } from '../core/errors.js';
import { type Logger } from '../io/runtime/logger.js';
import { type SnapshotStatus } from './current-version.js';
import { type ViewExports } from './view-exports.js';

export interface CsvCadenceConfig {
  /** merged_view.csv. */
  readonly target: string;
  readonly intervalMs: number;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Called after merged_view.csv is written, with the version it holds. */
  readonly onWritten?: (status: SnapshotStatus, writtenAtMs: number) => void;
}

export class CsvCadence {
  private lastWriteMs = -Infinity;
  private writing: Promise<void> | undefined;
  private writtenVersion = 0;

  constructor(
    private readonly config: CsvCadenceConfig,
    private readonly exports: ViewExports,
  ) {}

  /** Starts a write when one is due at `nowMs` for the version `current` (none while one is under way). */
  maybeWrite(nowMs: number, current: SnapshotStatus): void {
    if (this.writing || nowMs - this.lastWriteMs < this.config.intervalMs) return;
    if (this.writtenVersion === current.version && fs.existsSync(this.config.target)) return;
    this.writing = this.write()
      .catch((error: unknown) => {
        if (!(error instanceof LambdaflowError) || (error.code !== 'E_WRITE' && error.code !== 'E_STATE')) throw error;
        this.config.logger.warn(`serving: ${error.message}; merged_view.csv is written again next interval`);
      })
      .finally(() => (this.writing = undefined));
  }

  /** Writes the current version now, after the write under way (if any); a failure is the caller's. */
  async writeNow(): Promise<void> {
    await this.writing;
    await this.write();
  }

  private async write(): Promise<void> {
    const { clock } = this.config;
    this.lastWriteMs = clock.now();
    const status = await this.exports.publish();
    this.writtenVersion = status.version;
    this.config.onWritten?.(status, clock.now());
  }
}
