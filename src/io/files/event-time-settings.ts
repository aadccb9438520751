// The data folder's event-time bucket size, recorded once (`<data>/event-time.json`) so that no layer ever mixes
// totals of two bucket sizes: a layer asked for another size is refused with one error.

import fs from 'node:fs';
import { DEFAULT_BUCKET_SECONDS, bucketSecondsProblem, formatSeconds } from '../../core/event-time.js';
import { LambdaflowError } from '../../core/errors.js';
import { writeFileAtomically } from './atomic.js';
import { type DataLayout } from './layout.js';

/** The file is a few bytes: anything much larger is not ours. */
const MAX_SETTINGS_BYTES = 4096;

/** The recorded bucket size, or undefined when the folder has none yet; a damaged record is E_STATE. */
export function recordedBucketSeconds(layout: DataLayout): number | undefined {
  let text: string;
  try {
    const fd = fs.openSync(layout.eventTimeSettings, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    try {
      const bytes = Buffer.alloc(MAX_SETTINGS_BYTES + 1);
      const length = fs.readSync(fd, bytes, 0, bytes.length, 0);
      if (length > MAX_SETTINGS_BYTES)
        throw new LambdaflowError('E_STATE', `${layout.eventTimeSettings} is over ${MAX_SETTINGS_BYTES} bytes: not a settings file`, {
          file: layout.eventTimeSettings,
        });
      text = bytes.toString('utf8', 0, length);
    } finally {
      fs.closeSync(fd);
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    if (error instanceof LambdaflowError) throw error;
    throw new LambdaflowError(
      'E_STATE',
      `cannot read ${layout.eventTimeSettings}: ${(error as Error).message}`,
      { file: layout.eventTimeSettings },
      { cause: error },
    );
  }
  let seconds: unknown;
  try {
    seconds = (JSON.parse(text) as { bucketSeconds?: unknown }).bucketSeconds;
  } catch {
    seconds = undefined;
  }
  if (typeof seconds !== 'number' || bucketSecondsProblem(seconds) !== undefined) {
    throw new LambdaflowError('E_STATE', `${layout.eventTimeSettings} does not hold a valid bucketSeconds`, { file: layout.eventTimeSettings });
  }
  return seconds;
}

/**
 * The data folder's bucket size: the recorded one (a `requested` size that differs is an E_OPTIONS error), or — in a
 * folder without a record — `requested` (or the default), recorded now when `record` (layers that write state).
 */
export async function folderBucketSeconds(layout: DataLayout, requested: number | undefined, record: boolean): Promise<number> {
  const recorded = recordedBucketSeconds(layout);
  if (recorded !== undefined) {
    if (requested !== undefined && requested !== recorded) {
      throw new LambdaflowError(
        'E_OPTIONS',
        `--bucket: the data folder ${layout.root} keeps ${formatSeconds(recorded)} buckets, not ${formatSeconds(requested)}; ` +
          `changing the bucket size means a recompute in a new data folder (or leave --bucket out)`,
        { flag: 'bucket' },
      );
    }
    return recorded;
  }
  const seconds = requested ?? DEFAULT_BUCKET_SECONDS;
  if (record) await writeFileAtomically(layout.eventTimeSettings, `${JSON.stringify({ bucketSeconds: seconds })}\n`);
  return seconds;
}
