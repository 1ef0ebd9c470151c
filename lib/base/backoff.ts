/**
 * A capped exponential backoff: each `next()` returns the current delay and doubles it, up
 * to `max`. The daemons' redials use it, so a peer that is away is tried quickly at first and
 * then at a steady, cheap pace.
 */
export class Backoff {
  readonly #first: number;
  readonly #max: number;
  #current: number;

  constructor(firstMs: number, maxMs: number) {
    this.#first = firstMs;
    this.#max = maxMs;
    this.#current = firstMs;
  }

  /** The delay to wait now; the one after it is twice as long, at most the cap. */
  next(): number {
    const delay = this.#current;
    this.#current = Math.min(this.#current * 2, this.#max);
    return delay;
  }

  /** Back to the first delay (the peer answered). */
  reset(): void {
    this.#current = this.#first;
  }

  /** Straight to the cap (the peer refused: it will not change its mind within milliseconds). */
  slowest(): void {
    this.#current = this.#max;
  }
}
