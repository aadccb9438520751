// The serving layer's timer: merges every interval until stopped; a failed round is logged and retried next time.

import { type Clock } from '../core/clock.js';
import { LambdaflowError } from '../core/errors.js';
import { type DataLayout } from '../io/layout.js';
import { type Logger } from '../io/logger.js';
import { type MergeResult, type MergeViewKind, Merger } from './merge.js';

export interface MergeLoopConfig {
  readonly layout: DataLayout;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly signal: AbortSignal;
  readonly intervalMs: number;
  readonly view: MergeViewKind;
  /** Called after each merge that wrote a new view, with the time it was written. */
  readonly onMerged?: (result: MergeResult, mergedAtMs: number) => void;
}

/** Merges now and then every intervalMs; a final merge runs after the stop signal so the view is current. */
export async function mergeLoop(config: MergeLoopConfig): Promise<void> {
  const { clock } = config;
  const merger = new Merger(config.layout, config.view, config.logger);
  const round = async (): Promise<void> => {
    try {
      const result = await merger.merge();
      if (result) config.onMerged?.(result, clock.now());
    } catch (error) {
      if (!(error instanceof LambdaflowError) || (error.code !== 'E_STATE' && error.code !== 'E_WRITE')) throw error;
      config.logger.warn(`merge: ${error.message}`);
    }
  };
  while (!config.signal.aborted) {
    const started = clock.now();
    await round();
    await clock.sleep(Math.max(0, config.intervalMs - (clock.now() - started)), config.signal);
  }
  await round();
}
