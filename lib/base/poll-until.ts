/**
 * The CLI's one retry loop: try, and while the answer is "not yet", pause and try again until
 * a time limit. Every wait goes through it: SPUs confirmed, partition leaders back, processes
 * gone, ports free again, a partition's new leader found. Its pauses are the daemons' redial
 * backoff (lib/base/backoff.ts).
 */
import { Backoff } from "./backoff.ts";

/** Time and sleep; tests pass a fake one so a table can say exactly when each try happens. */
export interface Clock {
  now(): number;
  sleep(milliseconds: number): Promise<void>;
}

const REAL_CLOCK: Clock = { now: () => performance.now(), sleep: (milliseconds) => Bun.sleep(milliseconds) };

export interface PollOptions {
  /**
   * How long to keep trying, counted from the first try that comes back without an answer, so
   * a slow first success (a long produce, a consume that waits) never eats into it.
   */
  timeoutMs: number;
  /** The first pause; each next one is twice the last, up to `maxPauseMs`. */
  firstPauseMs: number;
  /** The longest pause; without it every pause is `firstPauseMs`. */
  maxPauseMs?: number;
  clock?: Clock;
}

/**
 * Calls `attempt` until it returns something other than `undefined` and resolves with that, or
 * resolves `undefined` once the time limit has passed without one. A pause never runs past the
 * deadline: the last try lands on it. An error `attempt` throws ends the polling at once.
 */
export async function pollUntil<T>(attempt: () => T | undefined | Promise<T | undefined>, options: PollOptions): Promise<T | undefined> {
  const clock = options.clock ?? REAL_CLOCK;
  const pauses = new Backoff(options.firstPauseMs, options.maxPauseMs ?? options.firstPauseMs);
  let deadline: number | undefined;
  for (;;) {
    const answer = await attempt();
    if (answer !== undefined) return answer;
    deadline ??= clock.now() + options.timeoutMs;
    const left = deadline - clock.now();
    if (left <= 0) return undefined;
    await clock.sleep(Math.min(pauses.next(), left));
  }
}
