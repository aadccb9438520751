// An abortable sleep: long-running loops wake at once when asked to stop.

/** setTimeout's largest delay (about 24.8 days); a longer one would fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

function sleepOnce(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Resolves after ms (Infinity: only when the signal aborts), or as soon as the signal aborts. */
export async function sleep(ms: number, signal: AbortSignal): Promise<void> {
  let remaining = Math.max(0, ms);
  while (remaining > MAX_TIMER_MS && !signal.aborted) {
    await sleepOnce(MAX_TIMER_MS, signal);
    remaining -= MAX_TIMER_MS;
  }
  await sleepOnce(remaining, signal);
}
