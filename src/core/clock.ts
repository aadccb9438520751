// Injected time: layers ask a Clock for the time and for waits, so tests drive them with a manual clock instead of
// sleeping (the system clock lives in io/).

export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Resolves after `ms` of this clock's time (Infinity: never), or as soon as the signal aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}
