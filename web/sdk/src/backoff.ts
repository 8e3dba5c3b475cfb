// Reconnect delays with "full jitter": the n-th retry waits a random time in
// [0, min(cap, base * 2^n)], which spreads clients that lost the same node
// over the whole window instead of having them return in lockstep.

export interface BackoffOptions {
  /** The first window, in milliseconds (default 500). */
  baseMs?: number;
  /** The largest window, in milliseconds (default 30000). */
  capMs?: number;
  /** A source of randomness in [0, 1) (default Math.random). */
  random?: () => number;
}

/** backoffWindow is the upper bound of the attempt-th delay (attempt from 0). */
export function backoffWindow(attempt: number, opts: BackoffOptions = {}): number {
  const base = opts.baseMs ?? 500;
  const cap = opts.capMs ?? 30000;
  // 2^n overflows to Infinity for large n; min() keeps it at cap.
  return Math.min(cap, base * Math.pow(2, Math.max(0, attempt)));
}

/** backoffDelay is a full-jitter delay for the attempt-th retry. */
export function backoffDelay(attempt: number, opts: BackoffOptions = {}): number {
  const random = opts.random ?? Math.random;
  return Math.floor(random() * backoffWindow(attempt, opts));
}

/** Backoff counts consecutive failures and hands out delays. */
export class Backoff {
  private n = 0;
  constructor(private readonly opts: BackoffOptions = {}) {}
  /** attempts is how many delays were handed out since the last reset. */
  get attempts(): number {
    return this.n;
  }
  /** next returns the delay before the next attempt and counts it. */
  next(): number {
    return backoffDelay(this.n++, this.opts);
  }
  /** reset starts over after a success. */
  reset(): void {
    this.n = 0;
  }
}
