// Each layer's resolved options (built by src/cli/options.ts, taken by the commands, `all`, soak and the benchmarks)
// and the one place that turns them into a layer's config.

import { type Clock } from '../core/clock.js';
import { type BadRowMode } from '../core/event-parser.js';
import { type WindowSpec } from '../core/window.js';
import { type NatsAddress, partitionSubject } from '../core/nats-names.js';
import { type DataLayout, streamLayout } from '../io/layout.js';
import { type Logger } from '../io/logger.js';
import { systemClock } from '../io/system-clock.js';
import { type MergeViewKind } from '../serving/view-kind.js';
import { type SpeedConfig, type SpeedSource, type SpeedStatus } from '../speed/speed-layer.js';
import { type CommandContext } from './context.js';

/** What every layer runs with: the data folder, its threads, what to do with bad rows, where to log. */
export interface LayerEnvironment {
  readonly layout: DataLayout;
  readonly threads: number;
  readonly mode: BadRowMode;
  readonly logger: Logger;
  readonly clock: Clock;
}

/** The environment of a command run: the system clock. */
export function layerEnvironment({ layout, global, logger }: Pick<CommandContext, 'layout' | 'global' | 'logger'>): LayerEnvironment {
  return { layout, threads: global.threads, mode: global.mode, logger, clock: systemClock };
}

export interface BatchOptions {
  readonly partitions: number;
  /** Complete batch views kept. */
  readonly keepViews: number;
}

/** A NATS JetStream stream as `--source` / `--sink nats://…` and the --nats-* options give it. */
export interface NatsOptions {
  readonly server: NatsAddress;
  /** The JetStream stream (created over `subject` if missing). */
  readonly stream: string;
  /** The stream's subjects, e.g. `events.>`; partition i is `events.i`. */
  readonly subject: string;
  /** Partitions publishers hash users to (1: one subject, `events.0`). */
  readonly partitions: number;
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
  /** Undefined: stream_input/ files. */
  readonly source?: SourceOptions;
}

/** The stream's layout and the source the speed layer reads, from the source options. */
function speedSource(layout: DataLayout, source: SourceOptions | undefined): { layout: DataLayout; source: SpeedSource } {
  if (source === undefined || source.kind === 'files') return { layout, source: { kind: 'files' } };
  const { server, stream, subject, consumer, partition } = source;
  if (partition === undefined) return { layout, source: { kind: 'nats', server, stream, streamSubject: subject, consumer, filterSubject: subject } };
  return {
    layout: streamLayout(layout, partition),
    source: { kind: 'nats', server, stream, streamSubject: subject, consumer: `${consumer}-p${partition}`, filterSubject: partitionSubject(subject, partition) },
  };
}

export interface MergeOptions {
  readonly intervalMs: number;
  readonly once: boolean;
  readonly view: MergeViewKind;
}

/** How one run of the speed layer is driven and observed. */
export interface SpeedRun {
  readonly signal: AbortSignal;
  /** Ingest what is complete, publish, return (`speed --once`). */
  readonly once?: boolean;
  readonly onSlide?: (status: SpeedStatus) => void;
  readonly onRealtime?: SpeedConfig['onRealtime'];
}

/** The speed layer's config: the `speed` command, `all` (so soak) and the speed benchmark all build it here. */
export function speedLayerConfig(environment: LayerEnvironment, options: SpeedOptions, run: SpeedRun): SpeedConfig {
  return {
    ...speedSource(environment.layout, options.source),
    threads: environment.threads,
    mode: environment.mode,
    logger: environment.logger,
    window: options.window,
    keepViews: options.keepViews,
    clock: environment.clock,
    signal: run.signal,
    once: run.once,
    onSlide: run.onSlide,
    onRealtime: run.onRealtime,
  };
}
