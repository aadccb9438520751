// Injected time: layers ask a Clock, so tests can drive windows without sleeping (the system clock lives in io/).

export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}
