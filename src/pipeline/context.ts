// What every command runs with: the resolved global options, the data folder, a logger, a stop signal and an output
// line printer. Built by the CLI for its commands; the pipeline and the tools (soak, bench) take only the parts they use.

import { type BadRowMode } from '../core/event-parser.js';
import { type LogLevel } from '../core/log-levels.js';
import { type DataLayout } from '../io/files/layout.js';
import { type Logger } from '../io/runtime/logger.js';

export interface GlobalConfig {
  readonly data: string;
  readonly threads: number;
  readonly logLevel: LogLevel;
  readonly mode: BadRowMode;
  /** `--bucket`: the event-time bucket size asked for (undefined: the data folder's recorded one, or the default). */
  readonly bucketSeconds: number | undefined;
}

export interface CommandContext {
  readonly global: GlobalConfig;
  readonly layout: DataLayout;
  readonly logger: Logger;
  /** Aborted on SIGINT/SIGTERM: long-running commands flush, publish and return. */
  readonly signal: AbortSignal;
  readonly print: (line: string) => void;
}
