// The serving layer's poll loop over days: each poll or nudge must leave nothing behind in the long-lived stop signal
// (it once composed a new AbortSignal.any per poll, each kept listed in the stop signal on Node 20).
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_BUCKET_SECONDS } from '../../src/core/event-time.js';
import { dataLayout } from '../../src/io/files/layout.js';
import { silentLogger } from '../../src/io/runtime/logger.js';
import { ServingLayer } from '../../src/serving/serving-layer.js';
import { requireBuild } from '../helpers/cli.js';
import { ManualClock, settle } from '../helpers/manual-clock.js';
import { publishBatchView, publishRealtimeView, writeBatchInputs } from '../helpers/pipeline.js';
import { tempRoots } from '../helpers/temp-dirs.js';

const newTempRoot = tempRoots();

/** What a signal keeps for the signals composed from it (Node's internal set; empty when this Node has none). */
function dependantsOf(signal: AbortSignal): number {
  const key = Object.getOwnPropertySymbols(signal).find((symbol) => symbol.description === 'kDependantSignals');
  return key === undefined ? 0 : ((signal as unknown as Record<symbol, Set<unknown> | undefined>)[key]?.size ?? 0);
}

beforeAll(() => requireBuild()); // the serving threads run from dist/

describe('ServingLayer.run', () => {
  it('keeps nothing per poll in its stop signal over 1,000 nudges and 1,000 polls', async () => {
    const { data } = newTempRoot();
    writeBatchInputs(data, { 'history.csv': 'user_id,event_type,amount,unix_timestamp\nalice,purchase,10.50,1700000000\n' });
    publishBatchView(data, 0);
    publishRealtimeView(data, 0, 0);
    const clock = new ManualClock(1_000_000);
    const layer = ServingLayer.open({
      layout: dataLayout(data),
      logger: silentLogger,
      clock,
      view: 'exact',
      bucketSeconds: DEFAULT_BUCKET_SECONDS,
      csvIntervalMs: 1_000,
      pollMs: 250,
    });
    const stop = new AbortController();
    const running = layer.run(stop.signal);
    // The first load runs on the serving threads, in real time.
    for (let waited = 0; !layer.isReady && waited < 20_000; waited += 10) {
      await clock.advanceTo(clock.now() + 1_000);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(layer.isReady).toBe(true);
    for (let i = 0; i < 1_000; i++) {
      layer.nudge();
      await settle();
      await clock.advanceTo(clock.now() + 250);
      await settle();
    }
    expect(dependantsOf(stop.signal)).toBeLessThanOrEqual(1);
    stop.abort();
    await running;
  });
});
