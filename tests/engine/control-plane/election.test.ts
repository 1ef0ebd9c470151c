/**
 * The pure parts of leader failover: which replica the SC elects (election.ts) and where a
 * follower's log stops matching its leader's (leader-epochs.ts). One line per case.
 */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { electLeader, type ElectionResult } from "../../../lib/engine/control-plane/election.ts";
import { clampHistory, divergencePoint, epochAt, readHistory, withEpoch, writeHistory, type EpochEntry } from "../../../lib/engine/storage/leader-epochs.ts";

describe("electLeader()", () => {
  const replicas = [5001, 5002, 5003];
  const cases: [string, { leader: number; isr: number[]; online: number[] }, ElectionResult][] = [
    ["keeps an online leader", { leader: 5001, isr: [5001, 5002, 5003], online: [5001, 5002, 5003] }, { kind: "keep" }],
    ["keeps an online leader even when it is alone", { leader: 5001, isr: [5001], online: [5001] }, { kind: "keep" }],
    [
      "elects the first online in-sync replica in replica order and drops the old leader from the in-sync set",
      { leader: 5001, isr: [5001, 5002, 5003], online: [5002, 5003] },
      { kind: "elect", next: { leader: 5002, leaderEpoch: 8, isr: [5002, 5003] } },
    ],
    [
      "skips an in-sync replica that is offline",
      { leader: 5001, isr: [5001, 5002, 5003], online: [5003] },
      { kind: "elect", next: { leader: 5003, leaderEpoch: 8, isr: [5002, 5003] } },
    ],
    [
      "never elects an online replica outside the in-sync set (no unclean election)",
      { leader: 5001, isr: [5001], online: [5002, 5003] },
      { kind: "leaderless", reason: "leader SPU 5001 is offline and is the only in-sync replica" },
    ],
    [
      "waits when every other in-sync replica is offline",
      { leader: 5001, isr: [5001, 5003], online: [5002] },
      { kind: "leaderless", reason: "leader SPU 5001 is offline and so are the other in-sync replicas (5003)" },
    ],
    [
      "elects a returning in-sync replica of a leaderless partition",
      { leader: 5002, isr: [5002, 5003], online: [5001, 5003] },
      { kind: "elect", next: { leader: 5003, leaderEpoch: 8, isr: [5003] } },
    ],
  ];
  test.each(cases)("electLeader() %s", (_, { leader, isr, online }, expected) => {
    expect(electLeader({ replicas, current: { leader, leaderEpoch: 7, isr }, isOnline: (id) => online.includes(id) })).toEqual(expected);
  });
});

describe("leader-epoch history", () => {
  const history: EpochEntry[] = [
    [0, 0],
    [2, 10],
    [5, 10],
    [6, 25],
  ];
  test.each([
    [0, 0],
    [9, 0],
    [10, 5],
    [24, 5],
    [25, 6],
    [1000, 6],
  ])("epochAt(history, %p) is %p", (offset, epoch) => {
    expect(epochAt(history, offset)).toBe(epoch);
  });
  test("epochAt() is -1 for records written before any history was kept", () => {
    expect(epochAt([], 3)).toBe(-1);
    expect(epochAt([[1, 4]], 3)).toBe(-1);
  });

  const cases: [string, EpochEntry[], number, EpochEntry[], number, number][] = [
    ["a follower behind its leader keeps everything", [[0, 0]], 5, [[0, 0]], 9, 5],
    ["a follower ahead of its leader in the same epoch is cut at the leader's end", [[0, 0]], 12, [[0, 0], [1, 9]], 9, 9],
    ["a returning leader's tail of its old epoch is cut where the new epoch starts", [[0, 0]], 12, [[0, 0], [1, 8], ], 15, 8],
    ["a follower that copied the new epoch keeps it", [[0, 0], [1, 8]], 12, [[0, 0], [1, 8]], 15, 12],
    ["a tail written by an epoch the leader never saw is cut", [[0, 0], [1, 8], [2, 10]], 12, [[0, 0], [1, 8], [3, 10]], 14, 10],
    ["logs without any history match (written before histories were kept)", [], 7, [[0, 7]], 9, 7],
    ["a log without history under a leader with one from 0 is cut to 0", [], 7, [[0, 0]], 9, 0],
    ["an empty follower starts at 0", [], 0, [[0, 0], [3, 4]], 9, 0],
    ["a new leader's entry at its end does not cut a caught-up follower", [[0, 0]], 9, [[0, 0], [1, 9]], 9, 9],
  ];
  test.each(cases)("divergencePoint(): %s", (_, local, localEnd, leader, leaderEnd, expected) => {
    expect(divergencePoint(local, localEnd, leader, leaderEnd)).toBe(expected);
  });

  test("withEpoch() adds a new epoch at the end, drops entries beyond it, and ignores an epoch it has", () => {
    expect(withEpoch([[0, 0]], 1, 9)).toEqual([[0, 0], [1, 9]]);
    expect(withEpoch([[0, 0], [1, 12]], 2, 9)).toEqual([[0, 0], [2, 9]]);
    expect(withEpoch([[0, 0], [1, 9]], 1, 11)).toEqual([[0, 0], [1, 9]]);
    expect(withEpoch([], 0, 0)).toEqual([[0, 0]]);
  });

  test("clampHistory() keeps only entries that describe records below the end", () => {
    expect(clampHistory([[0, 0], [1, 9], [2, 12]], 12)).toEqual([[0, 0], [1, 9]]);
    expect(clampHistory([[0, 0]], 0)).toEqual([]);
  });

  test("writeHistory() and readHistory() round-trip, and a missing file reads as no history", () => {
    const dir = mkdtempSync(join(tmpdir(), "cluster-epochs-"));
    try {
      expect(readHistory(dir)).toEqual([]);
      writeHistory(dir, [[0, 0], [4, 17]]);
      expect(readHistory(dir)).toEqual([[0, 0], [4, 17]]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
