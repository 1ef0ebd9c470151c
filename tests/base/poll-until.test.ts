/**
 * pollUntil() on a fake clock: each row says what each try answers and how long it takes, and
 * the table checks the answer, the pauses taken between tries, and how many tries were made.
 */
import { describe, expect, test } from "bun:test";
import { pollUntil, type Clock, type PollOptions } from "../../lib/base/poll-until.ts";

/** A try's answer (undefined: not yet) and how long it takes. */
type Try = [answer: number | undefined, costMs?: number];

function run(tries: Try[], options: Omit<PollOptions, "clock">) {
  let now = 1_000;
  const pauses: number[] = [];
  const clock: Clock = {
    now: () => now,
    sleep: async (milliseconds) => {
      pauses.push(milliseconds);
      now += milliseconds;
    },
  };
  let made = 0;
  const answer = pollUntil(() => {
    const [value, costMs = 0] = tries[Math.min(made++, tries.length - 1)]!;
    now += costMs;
    return value;
  }, { ...options, clock });
  return answer.then((value) => ({ value, pauses, tries: made }));
}

const u = undefined;

describe("pollUntil()", () => {
  test.each<[string, Try[], Omit<PollOptions, "clock">, { value: number | undefined; pauses: number[]; tries: number }]>([
    ["answers at once without a pause", [[7]], { timeoutMs: 100, firstPauseMs: 2 }, { value: 7, pauses: [], tries: 1 }],
    ["doubles its pause up to the longest", [[u], [u], [u], [u], [5]], { timeoutMs: 1_000, firstPauseMs: 2, maxPauseMs: 8 }, { value: 5, pauses: [2, 4, 8, 8], tries: 5 }],
    ["keeps one pause when no longest is given", [[u], [u], [3]], { timeoutMs: 1_000, firstPauseMs: 100 }, { value: 3, pauses: [100, 100], tries: 3 }],
    ["gives up at the deadline, the last pause cut to the time left", [[u]], { timeoutMs: 10, firstPauseMs: 4 }, { value: u, pauses: [4, 4, 2], tries: 4 }],
    ["with no time at all tries once", [[u]], { timeoutMs: 0, firstPauseMs: 2 }, { value: u, pauses: [], tries: 1 }],
    ["counts the time from the first miss, so a slow first try costs none of it", [[u, 50], [u], [3]], { timeoutMs: 10, firstPauseMs: 4, maxPauseMs: 8 }, { value: 3, pauses: [4, 6], tries: 3 }],
    ["counts slow later tries against the deadline", [[u], [u, 9], [4]], { timeoutMs: 10, firstPauseMs: 2 }, { value: u, pauses: [2], tries: 2 }],
    ["returns a falsy answer such as 0", [[u], [0]], { timeoutMs: 10, firstPauseMs: 1 }, { value: 0, pauses: [1], tries: 2 }],
  ])("pollUntil() %s", async (_, tries, options, expected) => {
    expect(await run(tries, options)).toEqual(expected);
  });

  test("pollUntil() stops at the first error a try throws", async () => {
    let made = 0;
    const failing = pollUntil(() => {
      made++;
      if (made === 2) throw new Error("no such thing");
      return undefined;
    }, { timeoutMs: 1_000, firstPauseMs: 1 });
    await expect(failing).rejects.toThrow("no such thing");
    expect(made).toBe(2);
  });
});
