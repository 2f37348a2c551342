/**
 * Sliding-window limiter: at most `limit` admitted requests in any window
 * (now - windowMs, now]. Only admitted requests count, so a client that keeps
 * knocking while limited is not starved forever. Timestamps are the same
 * epoch-ms values the request log records, so the log can be checked against
 * the limit exactly.
 */
export class SlidingWindowLimiter {
  private stamps: number[] = [];
  private head = 0;

  constructor(private readonly windowMs = 1000) {}

  /** Admits (and records) the request, or returns how many ms until a slot frees. */
  tryAdmit(limit: number, now: number): { ok: true } | { ok: false; retryAfterMs: number } {
    if (limit <= 0) return { ok: true };
    const cutoff = now - this.windowMs;
    while (this.head < this.stamps.length && this.stamps[this.head]! <= cutoff) this.head++;
    // Compact now and then so the array doesn't grow for ever.
    if (this.head > 1024 && this.head * 2 > this.stamps.length) {
      this.stamps = this.stamps.slice(this.head);
      this.head = 0;
    }
    const inWindow = this.stamps.length - this.head;
    if (inWindow < limit) {
      this.stamps.push(now);
      return { ok: true };
    }
    // The slot frees when the (inWindow - limit + 1)-th oldest stamp leaves the window.
    const freeing = this.stamps[this.head + inWindow - limit]!;
    return { ok: false, retryAfterMs: Math.max(1, freeing + this.windowMs - now) };
  }
}
