// Background threads (batch map/reduce, compaction, the serving threads that load views) run at a lower scheduling
// priority, so on a machine with few cores the threads answering lookups and ingesting the stream get a core first.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** How much lower (a nice value): the kernel then gives a runnable background thread ~1/10 of a normal one's share. */
export const BACKGROUND_NICE = 10;

/**
 * Lowers the calling thread's priority (Linux: a nice value is per thread, set through its thread id). Elsewhere,
 * or where it is not allowed, nothing changes: it is a scheduling hint, not a condition to run. A thread inherits the
 * nice value of the thread that starts it: a background thread must not be the one to start threads others share.
 */
export function runInBackground(): void {
  try {
    const tid = Number(path.basename(fs.readlinkSync('/proc/thread-self')));
    if (Number.isInteger(tid) && os.getPriority(tid) < BACKGROUND_NICE) os.setPriority(tid, BACKGROUND_NICE);
  } catch {
    // No /proc/thread-self (not Linux), or not permitted.
  }
}
