// The batch job against a compaction running next to it: files it listed may be moved before it reads them.

import { describe, expect, it } from 'vitest';
import { runBatch } from '../../src/batch/batch-job.js';
import { compactMasterDataset } from '../../src/batch/compaction.js';
import { dataLayout } from '../../src/io/files/layout.js';
import { createLogger } from '../../src/io/runtime/logger.js';
import { systemClock } from '../../src/io/runtime/system-clock.js';
import { requireBuild, runCliOk } from '../helpers/cli.js';
import { compactedMasterFiles, plain, readPartTotals } from '../helpers/outputs.js';
import { chunkText, dropStreamFile, writeBatchInputs } from '../helpers/pipeline.js';
import { recountMasterDataset } from '../helpers/reference.js';
import { tempRoots } from '../helpers/temp-dirs.js';

const tempRoot = tempRoots();

describe('runBatch next to a compaction', () => {
  it('lists the master dataset again when a compaction extends the compacted file and removes stream files it listed', async () => {
    requireBuild();
    const data = tempRoot().data;
    writeBatchInputs(data, { 'history.csv': chunkText(1, 200) });
    for (let i = 0; i < 4; i++) dropStreamFile(data, `a-${i}.csv`, chunkText(10 + i, 80));
    await runCliOk(['speed', '--once', '--data', data]);
    await runCliOk(['compact', '--data', data, '--min-age', '0', '--target-size', '1MB']);
    for (let i = 0; i < 4; i++) dropStreamFile(data, `b-${i}.csv`, chunkText(20 + i, 80));
    await runCliOk(['speed', '--once', '--data', data]);
    const truth = recountMasterDataset(data);
    const replaced = compactedMasterFiles(data).at(-1)!.path;

    const layout = dataLayout(data);
    const warnings: string[] = [];
    const logger = createLogger('warn', (line) => warnings.push(line));
    let compactions = 0;
    const onListed = async (): Promise<void> => {
      // Only the first listing: the job must not keep starting over.
      if (compactions++ > 0) return;
      const moved = await compactMasterDataset({ layout, logger, clock: systemClock, targetBytes: 1 << 20, minAgeMs: 0 });
      expect(moved.seqs).toBe(4);
    };
    const { dir, manifest } = await runBatch({
      layout,
      threads: 2,
      mode: 'permissive',
      partitions: 4,
      keepViews: 2,
      bucketSeconds: 3_600,
      logger,
      clock: systemClock,
      onListed,
    });

    expect(compactedMasterFiles(data).map((f) => f.path)).not.toContain(replaced); // the file it first listed is gone
    expect(manifest.streamWatermark).toBe(8);
    expect(manifest.inputs.filter((i) => i.source === 'stream_input')).toEqual([]);
    expect(plain(readPartTotals(dir))).toEqual(plain(truth));
    expect(warnings.join('')).toMatch(/a compaction moved master files while they were read .*listing the master dataset again/);
  });
});
