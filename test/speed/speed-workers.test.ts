// The speed workers: an error inside a worker reaches the parent with its code (the worker used to drop it).

import { afterEach, expect, it } from 'vitest';
import { UserAggTable } from '../../src/core/agg-table.js';
import { LambdaflowError } from '../../src/core/errors.js';
import { SpeedWorkers } from '../../src/speed/speed-workers.js';

let workers: SpeedWorkers | undefined;
afterEach(async () => {
  await workers?.stop();
  workers = undefined;
});

it('regression: an overflow inside a speed worker is E_OVERFLOW in the parent, not a code-less E_WORKER', async () => {
  workers = await SpeedWorkers.start(1, 2, '/nonexistent-deltas', 3_600);
  const huge = new UserAggTable();
  const user = Buffer.from('whale');
  huge.add(user, 0, user.length, 1, Number.MAX_SAFE_INTEGER - 10);
  workers.add([huge.toBlock()], 0, false);
  workers.add([huge.toBlock()], 0, false);
  const window = workers.windows(1);
  await expect(window).rejects.toBeInstanceOf(LambdaflowError);
  await expect(window).rejects.toMatchObject({ code: 'E_OVERFLOW', message: expect.stringContaining('speed worker 0: ') });
});
