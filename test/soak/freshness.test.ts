// Soak's freshness tracker over a real ingest log: every file measured once, and what it holds bounded by the files
// in flight, not by the files a soak of days writes (it once kept a seq for every file ever logged).
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { IngestLogWriter } from '../../src/io/logs/ingest-log.js';
import { FreshnessTracker } from '../../src/soak/freshness.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { tempRoots } from '../helpers/temp-dirs.js';

const newTempRoot = tempRoots();

describe('FreshnessTracker', () => {
  it('holds only the files not yet merged while 2,000 files go through it', () => {
    const { data } = newTempRoot();
    const { writer } = IngestLogWriter.open(path.join(data, 'ingest', 'ingest.log'));
    const clock = new ManualClock();
    const tracker = new FreshnessTracker(path.join(data, 'ingest', 'ingest.log'));
    let most = 0;
    for (let i = 0; i < 2_000; i++) {
      const name = `stream-${i}.csv`;
      tracker.renamed(name, clock.now());
      clock.set(clock.now() + 50);
      writer.append([{ name, size: 100 }], clock.now());
      // A merge every 4 files, reaching the seq logged two files before.
      if (i % 4 === 3) tracker.merged(writer.seq - 2, clock.now());
      most = Math.max(most, tracker.heldEntries);
    }
    writer.close();
    expect(most).toBeLessThanOrEqual(2 * 6);
    expect(tracker.files).toBe(1_998);
    // Renamed 50 ms before being logged, merged up to 200 ms later.
    expect(tracker.percentileMs(50)).toBeGreaterThanOrEqual(100);
    expect(tracker.percentileMs(100)).toBeLessThanOrEqual(300);
  });

  it('reads the log whole again after compaction folds it, measuring each file once', () => {
    const { data } = newTempRoot();
    const logPath = path.join(data, 'ingest', 'ingest.log');
    const { writer } = IngestLogWriter.open(logPath);
    const tracker = new FreshnessTracker(logPath);
    for (let i = 0; i < 10; i++) tracker.renamed(`a-${i}.csv`, 1_000);
    writer.append(
      Array.from({ length: 10 }, (_, i) => ({ name: `a-${i}.csv`, size: 1 })),
      1_000,
    );
    tracker.merged(5, 1_100);
    writer.fold(5);
    for (let i = 0; i < 3; i++) tracker.renamed(`b-${i}.csv`, 2_000);
    writer.append(
      Array.from({ length: 3 }, (_, i) => ({ name: `b-${i}.csv`, size: 1 })),
      2_000,
    );
    tracker.merged(13, 2_500);
    writer.close();
    expect(tracker.files).toBe(13);
    expect(tracker.heldEntries).toBe(0);
  });
});
