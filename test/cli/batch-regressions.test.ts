// Regression tests for batch-layer bugs, each named after what broke.
import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { runCli, startCli } from '../helpers/cli.js';
import { tempRoots } from '../helpers/temp-dirs.js';

const newTempRoot = tempRoots();

it('planning does not hang when a cut lands one byte before the end of a last line without newline', async () => {
  const dir = newTempRoot().data;
  fs.mkdirSync(path.join(dir, 'batch_input'));
  // 65,535 rows of 32 bytes, then a 64-byte last line without newline: with one thread the planner cuts at 1 MiB and
  // at 2 MiB, inside the last line, whose alignment scan used to stop advancing one byte before the end of file.
  const rows = 'u000001,purchase,1.00,170000000\n'.repeat(65_535);
  const last = `${'v'.repeat(48)},purchase,1.00,1`;
  fs.writeFileSync(path.join(dir, 'batch_input', 'a.csv'), rows + last);
  const result = await runCli(['batch', '--data', dir, '--threads', '1'], { timeoutMs: 20_000 });
  expect(result.code).toBe(0);
  expect(result.stdout).toMatch(/65,536 rows \(65,536 purchases, 0 bad\)/);
});

it('SIGTERM ends a batch at once instead of being ignored', async () => {
  const dir = newTempRoot().data;
  fs.mkdirSync(path.join(dir, 'batch_input'));
  fs.writeFileSync(path.join(dir, 'batch_input', 'a.csv'), 'u1,purchase,1.00,1\n'.repeat(2_000_000));
  const batch = startCli(['batch', '--data', dir, '--threads', '1']); // its result settles even if the batch ends first
  await new Promise((r) => setTimeout(r, 300));
  const killedAt = Date.now();
  batch.child.kill('SIGTERM');
  await batch.result;
  expect(Date.now() - killedAt).toBeLessThan(5_000);
  // No half-written view is visible.
  const views = fs.existsSync(path.join(dir, 'serving', 'batch')) ? fs.readdirSync(path.join(dir, 'serving', 'batch')) : [];
  expect(views.filter((n) => n.startsWith('batch-') && !fs.existsSync(path.join(dir, 'serving', 'batch', n, '_SUCCESS')))).toEqual([]);
});
