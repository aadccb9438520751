// Batch views a merge may serve: only complete ones whose manifest says what they absorbed (its stream watermark),
// made of regular files in folders of the data folder (links are not followed).

import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { dataLayout } from '../../../src/io/files/layout.js';
import { type Logger } from '../../../src/io/runtime/logger.js';
import { VIEW_REMOVED, forEachViewPart, listBatchViews, readingView } from '../../../src/io/views/views.js';
import { mergeOnce } from '../../../src/pipeline/serving.js';
import { systemClock } from '../../../src/io/runtime/system-clock.js';
import { tempRoots } from '../../helpers/temp-dirs.js';

const tempRoot = tempRoots();

function capturingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  return { warnings, error() {}, info() {}, debug() {}, warn: (message) => void warnings.push(message) };
}

function writeView(servingBatch: string, ms: number, part: string, manifest: string | undefined): string {
  const dir = path.join(servingBatch, `batch-${ms}`);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'part-00000'), part);
  if (manifest !== undefined) fs.writeFileSync(path.join(dir, '_MANIFEST.json'), manifest);
  fs.writeFileSync(path.join(dir, '_SUCCESS'), '');
  return dir;
}

describe('batch views without a watermark', () => {
  it.each([
    { name: 'no _MANIFEST.json', manifest: undefined, reason: /has no _MANIFEST\.json/ },
    { name: 'unreadable JSON', manifest: '{"streamWatermark": 3', reason: /no valid streamWatermark/ },
    { name: 'no streamWatermark', manifest: '{"users": 1}', reason: /no valid streamWatermark/ },
    { name: 'a negative watermark', manifest: '{"streamWatermark": -1}', reason: /no valid streamWatermark/ },
    { name: 'a fractional watermark', manifest: '{"streamWatermark": 1.5}', reason: /no valid streamWatermark/ },
    { name: 'a string watermark', manifest: '{"streamWatermark": "4"}', reason: /no valid streamWatermark/ },
    // Regression: a 300 MB manifest was read whole (serve's peak RSS past 1 GB).
    {
      name: 'a manifest past 8 MiB',
      manifest: JSON.stringify({ streamWatermark: 0, pad: 'x'.repeat(9 << 20) }),
      reason: /manifest cannot be read \(.*is 943\d+ bytes, more than the 8388608 bytes/,
    },
  ])('are skipped with one warning naming them, and the previous good view stays served ($name)', async ({ manifest, reason }) => {
    const layout = dataLayout(tempRoot().data);
    writeView(layout.servingBatch, 1_000, 'good,1,1.00\n', JSON.stringify({ streamWatermark: 0 }));
    const bad = writeView(layout.servingBatch, 2_000, 'bad,9,9.99\n', manifest);
    const logger = capturingLogger();

    expect(listBatchViews(layout.servingBatch, logger).map((v) => v.dir)).toEqual([path.join(layout.servingBatch, 'batch-1000')]);
    expect(listBatchViews(layout.servingBatch, logger)).toHaveLength(1);
    expect(logger.warnings).toHaveLength(1);
    expect(logger.warnings[0]).toContain(bad);
    expect(logger.warnings[0]).toMatch(reason);

    await mergeOnce({ layout, threads: 1, mode: 'permissive', logger, clock: systemClock, bucketSeconds: 3_600 }, 'exact');
    expect(fs.readFileSync(layout.mergedView, 'utf8')).toBe('user_id,purchase_count_total,purchase_amount_total\ngood,1,1.00\n');
    expect(logger.warnings).toHaveLength(1);
  });
});

describe('links in serving/batch (regression: a view linked from outside was served, a made-up user and all)', () => {
  /** A complete view with a watermark outside the data folder: what a link would bring in. */
  function outsideView(): string {
    const outside = path.join(tempRoot().data, 'elsewhere');
    return writeView(outside, 9_000, 'madeup,1,1000000.00\n', JSON.stringify({ streamWatermark: 0 }));
  }

  it('a batch-<ms> that is a link to a folder is not a view', async () => {
    const layout = dataLayout(tempRoot().data);
    writeView(layout.servingBatch, 1_000, 'good,1,1.00\n', JSON.stringify({ streamWatermark: 0 }));
    fs.symlinkSync(outsideView(), path.join(layout.servingBatch, 'batch-2000'));
    const logger = capturingLogger();
    expect(listBatchViews(layout.servingBatch, logger).map((v) => path.basename(v.dir))).toEqual(['batch-1000']);
    await mergeOnce({ layout, threads: 1, mode: 'permissive', logger, clock: systemClock, bucketSeconds: 3_600 }, 'exact');
    expect(fs.readFileSync(layout.mergedView, 'utf8')).toBe('user_id,purchase_count_total,purchase_amount_total\ngood,1,1.00\n');
  });

  it.each([
    ['a part-* that is a link to a file', (view: string, outside: string) => fs.symlinkSync(path.join(outside, 'part-00000'), path.join(view, 'part-00001'))],
    ['buckets/ that is a link to a folder', (view: string, outside: string) => fs.symlinkSync(outside, path.join(view, 'buckets'))],
  ])('%s: the view is refused with E_STATE naming it, nothing of it merged', async (_name, link) => {
    const layout = dataLayout(tempRoot().data);
    const view = writeView(layout.servingBatch, 1_000, 'good,1,1.00\n', JSON.stringify({ streamWatermark: 0, bucketSeconds: 3_600 }));
    link(view, outsideView());
    const merged = mergeOnce({ layout, threads: 1, mode: 'permissive', logger: capturingLogger(), clock: systemClock, bucketSeconds: 3_600 }, 'exact');
    await expect(merged).rejects.toMatchObject({ code: 'E_STATE', message: expect.stringMatching(/is a symbolic link \(links are not followed\)/) });
    expect(fs.existsSync(layout.mergedView)).toBe(false);
  });
});

describe('a view pruned while it is read (regression: merge --once failed with a raw ENOENT from the serving thread)', () => {
  it('is one E_STATE error saying so (reason VIEW_REMOVED), whether the read failed on a missing file or finished', () => {
    const layout = dataLayout(tempRoot().data);
    const view = writeView(layout.servingBatch, 1_000, 'good,1,1.00\n', JSON.stringify({ streamWatermark: 0 }));
    const prune = (): void => fs.rmSync(path.join(view, '_SUCCESS'));
    expect(() =>
      readingView(view, () => {
        prune();
        fs.rmSync(path.join(view, 'part-00000'));
        forEachViewPart(view, () => {});
      }),
    ).toThrow(
      expect.objectContaining({
        code: 'E_STATE',
        context: expect.objectContaining({ reason: VIEW_REMOVED }),
        message: `view ${view} was removed while being read`,
      }),
    );
    fs.rmSync(view, { recursive: true });
    const again = writeView(layout.servingBatch, 2_000, 'good,1,1.00\n', JSON.stringify({ streamWatermark: 0 }));
    expect(() => readingView(again, () => fs.rmSync(path.join(again, '_SUCCESS')))).toThrow(
      expect.objectContaining({ context: expect.objectContaining({ reason: VIEW_REMOVED }) }),
    );
    // A read that fails for another reason while the view stays is that failure.
    const kept = writeView(layout.servingBatch, 3_000, 'good,1,1.00\n', JSON.stringify({ streamWatermark: 0 }));
    expect(() =>
      readingView(kept, () => {
        throw new Error('disk on fire');
      }),
    ).toThrow('disk on fire');
  });
});
