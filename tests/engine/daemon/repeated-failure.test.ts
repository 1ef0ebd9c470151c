import { describe, expect, test } from "bun:test";
import { RepeatedFailure } from "../../../lib/engine/daemon/repeated-failure.ts";

/** A RepeatedFailure on a clock the test moves, and the lines it logged. */
function failing() {
  const lines: string[] = [];
  let now = 0;
  const failure = new RepeatedFailure({
    what: "replica 't-0' storing records",
    firstDelayMs: 100,
    maxDelayMs: 1_000,
    logIntervalMs: 10_000,
    log: (line) => lines.push(line),
    now: () => now,
  });
  return { failure, lines, advance: (ms: number) => (now += ms) };
}

describe("RepeatedFailure", () => {
  test("fail() doubles the wait from the first delay up to the cap", () => {
    const { failure } = failing();
    expect(Array.from({ length: 7 }, () => failure.fail("disk full"))).toEqual([100, 200, 400, 800, 1_000, 1_000, 1_000]);
  });

  test("fail() logs the first failure at once, then one line per interval with the count", () => {
    const { failure, lines, advance } = failing();
    failure.fail("disk full");
    for (let attempt = 0; attempt < 25; attempt++) {
      advance(1_000);
      failure.fail("disk full");
    }
    expect(lines).toEqual([
      "replica 't-0' storing records failed: disk full; retrying with a backoff of 100 ms doubling up to 1000 ms",
      "replica 't-0' storing records failed 10 more time(s) in the last 10.0 s, 11 in all: disk full; next attempt in 1000 ms",
      "replica 't-0' storing records failed 10 more time(s) in the last 10.0 s, 21 in all: disk full; next attempt in 1000 ms",
    ]);
  });

  test("succeed() logs once that it works again, and the next failure starts over from the first delay", () => {
    const { failure, lines, advance } = failing();
    failure.fail("disk full");
    advance(2_500);
    failure.fail("disk full");
    failure.succeed();
    failure.succeed();
    expect(lines.at(-1)).toBe("replica 't-0' storing records works again, after 2 failed attempt(s) over 2.5 s");
    expect(lines).toHaveLength(2);
    expect(failure.fail("disk full")).toBe(100);
    expect(lines).toHaveLength(3);
  });

  test("succeed() without a failure logs nothing", () => {
    const { failure, lines } = failing();
    failure.succeed();
    expect(lines).toEqual([]);
    expect(failure.failures).toBe(0);
  });
});
