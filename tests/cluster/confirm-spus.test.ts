import { describe, expect, test } from "bun:test";
import { compareSpuSets, formatIds, formatSpuProgress } from "../../lib/cluster/confirm-spus.ts";

const reports = (online: number[], offline: number[] = []) => [
  ...online.map((id) => ({ id, online: true })),
  ...offline.map((id) => ({ id, online: false })),
];

describe("compareSpuSets()", () => {
  test.each([
    ["all online", [5001, 5002, 5003], reports([5003, 5001, 5002]), { confirmed: true, unregistered: [], extra: [], offline: [] }],
    ["one offline", [5001, 5002, 5003], reports([5001, 5002], [5003]), { confirmed: false, unregistered: [], extra: [], offline: [5003] }],
    ["one not registered", [5001, 5002], reports([5001]), { confirmed: false, unregistered: [5002], extra: [], offline: [] }],
    // The reference tool's hang: 3 stored, 1 expected. A count would say 3 >= 1; the sets differ.
    ["stale SPUs from an earlier spec", [5001], reports([5001], [5002, 5003]), { confirmed: false, unregistered: [], extra: [5002, 5003], offline: [] }],
    ["an extra SPU online", [5001], reports([5001, 5004]), { confirmed: false, unregistered: [], extra: [5004], offline: [] }],
    ["same count, different ids", [5001, 5002], reports([5001, 5003]), { confirmed: false, unregistered: [5002], extra: [5003], offline: [] }],
    ["nothing registered yet", [5001], [], { confirmed: false, unregistered: [5001], extra: [], offline: [] }],
  ])("compareSpuSets() with %s", (_, expected, reported, outcome) => {
    expect(compareSpuSets(expected, reported)).toMatchObject(outcome);
  });

  test("compareSpuSets() returns sorted registered and online sets", () => {
    expect(compareSpuSets([5002, 5001], reports([5002, 5001], [5003]))).toMatchObject({
      expected: [5001, 5002],
      registered: [5001, 5002, 5003],
      online: [5001, 5002],
    });
  });
});

describe("progress and messages", () => {
  test.each([
    [[], ""],
    [[5001], "5001"],
    [[5001, 5002], "5001 and 5002"],
    [[5001, 5002, 5003], "5001, 5002 and 5003"],
  ])("formatIds(%j) is %p", (ids, text) => {
    expect(formatIds(ids)).toBe(text);
  });

  test("formatSpuProgress() names the SPUs still awaited", () => {
    expect(formatSpuProgress(compareSpuSets([5001, 5002, 5003], reports([5001, 5002])))).toBe("SPUs 2/3 online, waiting for 5003");
    expect(formatSpuProgress(undefined)).toBe("waiting for the SC to answer");
  });
});
