// Regression tests for batch-layer bugs, each named after what broke.
import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { describeRun, startCli } from '../helpers/cli.js';
import { batchLeftovers, completeBatchViews } from '../helpers/outputs.js';
import { waitFor, writeBatchInputs } from '../helpers/pipeline.js';
import { tempRoots } from '../helpers/temp-dirs.js';

const newTempRoot = tempRoots();

/** The batch has planned its ranges and is writing: its hidden temp view directory exists in serving/batch. */
function batchIsWriting(dataDir: string): boolean {
  const dir = path.join(dataDir, 'serving', 'batch');
  return fs.existsSync(dir) && fs.readdirSync(dir).some((name) => /^\.batch-\d+\.tmp-/.test(name));
}

it('regression: SIGTERM ends a running batch at once (batch trapped it and ran on to publish)', async () => {
  const { data } = newTempRoot();
  writeBatchInputs(data, { 'a.csv': 'u1,purchase,1.00,1\n'.repeat(2_000_000) });
  const batch = startCli(['batch', '--data', data, '--threads', '1']);
  let ended = false;
  void batch.result.then(() => (ended = true));
  // Signalled while provably mid-run, however fast the machine: a batch that ignored SIGTERM would publish a view.
  await waitFor(() => batchIsWriting(data) || ended, 20_000, 'the batch to start writing its view');
  expect(ended, 'the batch ended before it could be signalled').toBe(false);
  const signalledAt = Date.now();
  batch.child.kill('SIGTERM');
  const run = await batch.result;
  expect(Date.now() - signalledAt).toBeLessThan(5_000);
  expect(run.code, describeRun(run)).not.toBe(0);
  expect(completeBatchViews(data)).toEqual([]);
  // No half-written view is visible: what is left is hidden.
  expect(batchLeftovers(data).filter((name) => !name.startsWith('.'))).toEqual([]);
});
