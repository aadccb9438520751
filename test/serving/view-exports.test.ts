// ViewExports: a file per version, planned from the last or whole, published atomically as merged_view.csv, of the
// version it was asked at however the store goes on while it is written.

import fs from 'node:fs';
import path from 'node:path';
import { text } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { type LambdaflowError } from '../../src/core/errors.js';
import { seededRandom } from '../../src/core/event-generator.js';
import { ServingStore } from '../../src/serving/store.js';
import { ViewExports } from '../../src/serving/view-exports.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { tempRoots } from '../helpers/temp-dirs.js';
import { batchView, expectedCsv, makeSeqs, model, seqBlocks, tableOf } from '../helpers/serving-model.js';

const tempRoot = tempRoots();

describe('ViewExports: a file per version', () => {
  it('writes each version a file equal to a recount (planned from the last, or whole after a swap), publishes it, and leaves only merged_view.csv', async () => {
    const { data } = tempRoot();
    const target = path.join(data, 'view', 'merged_view.csv');
    const random = seededRandom(31);
    const seqs = makeSeqs(random, 1_500, 3_000);
    const store = new ServingStore(new ManualClock(5));
    store.load(batchView(seqs, 50), tableOf(seqs, 50, 50), 50, null);
    store.keepRecent(true);
    let through = 50;
    const applyMore = (): void => {
      const next = through + 1 + Math.floor(random() * 3);
      store.apply(seqBlocks(seqs, through, next), next);
      through = next;
    };
    const exports = new ViewExports(target, store);
    for (let step = 0; step < 60; step++) {
      applyMore();
      if (step % 20 === 19) expect(store.swapBatch(batchView(seqs, through - 2, `batch-${step}`))).toBeDefined();
      const asked = store.current!.version;
      // Exports are written in steps, whole ones too, while the store goes on: more seqs arrive between the steps,
      // and the file must still be of the version it was asked at.
      const exported = exports.current();
      let done = false;
      void exported.finally(() => (done = true));
      for (let turns = 0; turns < 8 && !done; turns++) {
        await new Promise((resolve) => setImmediate(resolve));
        applyMore();
      }
      // Of the version current when it began (at or after the one asked at), exactly.
      const { status, file } = await exported;
      expect(status.version).toBeGreaterThanOrEqual(asked);
      expect(await text(file.stream()), `step ${step}`).toBe(expectedCsv(model(seqs, status.throughSeq)));
      await file.release();
      if (step % 7 === 0) {
        // Of the version current now (a whole export above applied more seqs meanwhile).
        const published = await exports.publish();
        expect(published.version).toBe(store.current!.version);
        expect(fs.readFileSync(target, 'utf8')).toBe(expectedCsv(model(seqs, through)));
      }
    }
    expect(exports.written.whole, 'whole exports: the first, and one after each of 3 swaps').toBe(4);
    expect(exports.written.planned).toBeGreaterThan(50);
    // merged_view.csv removed, the version unchanged: publishing writes it again.
    const last = await exports.publish();
    fs.rmSync(target);
    expect((await exports.publish()).version).toBe(last.version);
    expect(fs.readFileSync(target, 'utf8')).toBe(expectedCsv(model(seqs, through)));
    await exports.close();
    expect(fs.readdirSync(path.dirname(target))).toEqual(['merged_view.csv']);
  });

  it('writes the next export whole after merged_view.csv was rewritten in place, and exports nothing once closed', async () => {
    const { data } = tempRoot();
    const target = path.join(data, 'view', 'merged_view.csv');
    const seqs = makeSeqs(seededRandom(37), 40, 500);
    const store = new ServingStore(new ManualClock(5));
    store.load(batchView(seqs, 10), tableOf(seqs, 10, 10), 10, null);
    const exports = new ViewExports(target, store);
    await exports.publish();
    expect((fs.statSync(target).mode & 0o777).toString(8), 'published read-only: later exports are copied from it').toBe('444');
    // Someone rewrites it in place anyway (as its owner may): the next export must not copy their bytes.
    fs.chmodSync(target, 0o644);
    fs.writeFileSync(target, 'user_id,purchase_count_total,purchase_amount_total\nsomeone,1,1.00\n');
    store.apply(seqBlocks(seqs, 10, 20), 20);
    const refused = await exports.current().catch((error: unknown) => error);
    expect((refused as LambdaflowError).code).toBe('E_STATE');
    const { file } = await exports.current();
    expect(await text(file.stream())).toBe(expectedCsv(model(seqs, 20)));
    await file.release();
    expect(exports.written.whole, 'the first export, then one after the refused plan').toBe(2);

    // Closing waits for an export on its way, and refuses new ones (503 at the HTTP API); no export file is left.
    store.apply(seqBlocks(seqs, 20, 30), 30);
    const onItsWay = exports.publish();
    await exports.close();
    expect((await onItsWay).throughSeq).toBe(30);
    expect(((await exports.current().catch((error: unknown) => error)) as LambdaflowError).code).toBe('E_STATE');
    expect(fs.readFileSync(target, 'utf8')).toBe(expectedCsv(model(seqs, 30)));
    expect(fs.readdirSync(path.dirname(target))).toEqual(['merged_view.csv']);
  });
});
