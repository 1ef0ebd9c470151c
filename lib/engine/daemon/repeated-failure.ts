/**
 * An operation that keeps failing the same way, such as a follower storing records on a full
 * disk: it is retried after a capped exponential backoff, and logged when it starts failing,
 * then at most once per interval with a count, and once when it works again. Without this a
 * follower retried every few milliseconds, a log line each time, onto the disk that was full.
 */
import { Backoff } from "../../base/backoff.ts";
import { log as daemonLog } from "./log.ts";

export interface RepeatedFailureOptions {
  /** What is attempted, as a log line begins: "replica 'orders-0' storing records from leader SPU 5001". */
  what: string;
  /** The wait after the first failure; it doubles with each failure after that. */
  firstDelayMs: number;
  maxDelayMs: number;
  /** Failures after the first are logged at most this often, as a count. */
  logIntervalMs: number;
  /** Injectable for tests. */
  log?: (line: string) => void;
  now?: () => number;
}

/** The failures of one operation since it last worked, and what to log and wait for them. */
export class RepeatedFailure {
  readonly #options: Required<RepeatedFailureOptions>;
  readonly #backoff: Backoff;
  /** Failures since the operation last worked. */
  #failures = 0;
  /** Failures not yet counted in a log line. */
  #unlogged = 0;
  #firstAt = 0;
  #loggedAt = 0;

  constructor(options: RepeatedFailureOptions) {
    this.#options = { log: daemonLog, now: Date.now, ...options };
    this.#backoff = new Backoff(options.firstDelayMs, options.maxDelayMs);
  }

  /** Failures since the operation last worked. */
  get failures(): number {
    return this.#failures;
  }

  /** Counts a failed attempt, logs it when due, and returns how long to wait before the next attempt. */
  fail(reason: string): number {
    const { what, firstDelayMs, maxDelayMs, logIntervalMs, log, now } = this.#options;
    const at = now();
    this.#failures++;
    const delayMs = this.#backoff.next();
    if (this.#failures === 1) {
      this.#firstAt = at;
      this.#loggedAt = at;
      log(`${what} failed: ${reason}; retrying with a backoff of ${firstDelayMs} ms doubling up to ${maxDelayMs} ms`);
      return delayMs;
    }
    this.#unlogged++;
    if (at - this.#loggedAt >= logIntervalMs) {
      log(`${what} failed ${this.#unlogged} more time(s) in the last ${seconds(at - this.#loggedAt)}, ${this.#failures} in all: ${reason}; next attempt in ${delayMs} ms`);
      this.#loggedAt = at;
      this.#unlogged = 0;
    }
    return delayMs;
  }

  /** Marks the operation as working again; logs so once if it had failed. */
  succeed(): void {
    if (this.#failures === 0) return;
    const { what, log, now } = this.#options;
    log(`${what} works again, after ${this.#failures} failed attempt(s) over ${seconds(now() - this.#firstAt)}`);
    this.#failures = 0;
    this.#unlogged = 0;
    this.#backoff.reset();
  }
}

function seconds(milliseconds: number): string {
  return `${(milliseconds / 1000).toFixed(1)} s`;
}
