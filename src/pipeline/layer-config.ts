// Each layer's resolved options (built by src/cli/options.ts, taken by the commands, `all`, soak and the benchmarks)
// and the environment every layer runs in.

import { type Clock } from '../core/clock.js';
import { type BadRowMode } from '../core/event-parser.js';
import { type EventWindowSpec } from '../core/event-window.js';
import { type WindowSpec } from '../core/window.js';
import { type NatsAddress } from '../core/nats-names.js';
import { folderBucketSeconds } from '../io/files/event-time-settings.js';
import { type DataLayout } from '../io/files/layout.js';
import { type Logger } from '../io/runtime/logger.js';
import { systemClock } from '../io/runtime/system-clock.js';
import { type MergeViewKind } from '../serving/view-kind.js';
import { type GlobalConfig } from './context.js';

/** What every layer runs with: the data folder, its threads, what to do with bad rows, where to log. */
export interface LayerEnvironment {
  readonly layout: DataLayout;
  readonly threads: number;
  readonly mode: BadRowMode;
  readonly logger: Logger;
  readonly clock: Clock;
  /** The data folder's event-time bucket size (recorded once: src/io/files/event-time-settings.ts). */
  readonly bucketSeconds: number;
}

/** What a command run knows of the environment: its data folder, its global options and its logger. */
export interface CommandEnvironment {
  readonly layout: DataLayout;
  readonly global: Pick<GlobalConfig, 'threads' | 'mode' | 'bucketSeconds'>;
  readonly logger: Logger;
}

/** The environment of a command run: the system clock, and the data folder's bucket size (recorded if it had none). */
export async function layerEnvironment({ layout, global, logger }: CommandEnvironment): Promise<LayerEnvironment> {
  const bucketSeconds = await folderBucketSeconds(layout, global.bucketSeconds, true);
  return { layout, threads: global.threads, mode: global.mode, logger, clock: systemClock, bucketSeconds };
}

export interface BatchOptions {
  readonly partitions: number;
  /** Complete batch views kept. */
  readonly keepViews: number;
}

/** A NATS JetStream stream as `--source` / `--sink nats://…` and the --nats-* options give it. */
export interface NatsOptions {
  /** Servers of one cluster (or one server): the client connects to any of them and fails over to every member it learns of. */
  readonly servers: readonly NatsAddress[];
  /** The JetStream stream (created over `subject` if missing). */
  readonly stream: string;
  /** The stream's subjects, e.g. `events.>`; partition i is `events.i`. */
  readonly subject: string;
  /** Partitions publishers hash users to (1: one subject, `events.0`). */
  readonly partitions: number;
  /** The stream's replicas, created with or checked (undefined: created with 1, an existing stream used as it is). */
  readonly replicas: number | undefined;
}

/** Where the speed layer reads: stream_input/ files, or NATS (one partition's subject and consumer, or all of it). */
export type SourceOptions =
  | { readonly kind: 'files' }
  | (NatsOptions & {
      readonly kind: 'nats';
      /** The durable consumer's name (a partition's is `<consumer>-p<i>`). */
      readonly consumer: string;
      /** Undefined: the default stream, reading every partition's subject. */
      readonly partition: number | undefined;
    });

export interface SpeedOptions {
  /** Batch interval, window and slide, checked to divide evenly. */
  readonly window: WindowSpec;
  /** Speed window directories (speed-<ms>.txt/) kept. */
  readonly keepViews: number;
  /** L of the event-time watermark W = max event second − L (src/core/event-time.ts). */
  readonly allowedLatenessSeconds: number;
  /** Set with `--time event`: the window is on event time (src/core/event-window.ts); undefined: on processing time. */
  readonly eventWindow?: EventWindowSpec;
  /** Undefined: stream_input/ files. */
  readonly source?: SourceOptions;
}

export interface MergeOptions {
  readonly intervalMs: number;
  readonly once: boolean;
  /** With `once`: write merged_buckets.csv too. */
  readonly buckets: boolean;
  readonly view: MergeViewKind;
}
