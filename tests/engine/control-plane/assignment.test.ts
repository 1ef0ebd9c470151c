/**
 * Table tests of the data path's pure parts: replica placement, topic names, the leader's
 * high watermark and in-sync set decisions, and the produce/consume wire encodings.
 */
import { describe, expect, test } from "bun:test";
import { assignReplicas } from "../../../lib/engine/control-plane/assignment.ts";
import { desiredIsr, highWatermark, type FollowerState } from "../../../lib/engine/data-plane/isr.ts";
import { partitionName, topicNameProblem } from "../../../lib/engine/model/topic-name.ts";
import { splitLines } from "../../../lib/commands/produce.ts";
import { leaderlessPartitions } from "../../../lib/cluster/confirm-spus.ts";

describe("assignReplicas()", () => {
  test.each([
    ["one partition, replication 1", { spus: [5001], partitions: 1, replication: 1 }, [[5001]]],
    ["one partition on all three", { spus: [5001, 5002, 5003], partitions: 1, replication: 3 }, [[5001, 5002, 5003]]],
    [
      "leaders rotate over the SPUs",
      { spus: [5001, 5002, 5003], partitions: 4, replication: 2 },
      [[5001, 5002], [5002, 5003], [5003, 5001], [5001, 5002]],
    ],
    ["start shifts the first leader", { spus: [5001, 5002, 5003], partitions: 2, replication: 1, start: 2 }, [[5003], [5001]]],
    ["SPU ids are sorted and deduplicated", { spus: [5003, 5001, 5001], partitions: 2, replication: 2 }, [[5001, 5003], [5003, 5001]]],
  ])("%s", (_, options, expected) => {
    const placed = assignReplicas(options);
    expect(placed.map((entry) => entry.replicas)).toEqual(expected);
    expect(placed.map((entry) => entry.partition)).toEqual(expected.map((_, index) => index));
    for (const { replicas } of placed) expect(new Set(replicas).size).toBe(replicas.length);
  });

  test.each([
    [{ spus: [5001, 5002], partitions: 1, replication: 3 }],
    [{ spus: [], partitions: 1, replication: 1 }],
    [{ spus: [5001], partitions: 1, replication: 0 }],
  ])("assignReplicas(%j) throws when the replicas cannot sit on distinct SPUs", (options) => {
    expect(() => assignReplicas(options)).toThrow("cannot place");
  });
});

describe("topicNameProblem()", () => {
  test.each(["repltopic", "a", "Orders.v2", "with_underscore", "with-dash", "0", "x".repeat(200)])("accepts '%s'", (name) => {
    expect(topicNameProblem(name)).toBeNull();
  });

  test.each([
    ["", "cannot be empty"],
    [".", "cannot be a topic name"],
    ["..", "cannot be a topic name"],
    ["has space", "may only hold"],
    ["slash/inside", "may only hold"],
    ["émoji", "may only hold"],
    ["x".repeat(201), "at most 200 characters"],
  ])("refuses '%s'", (name, problem) => {
    expect(topicNameProblem(name)).toContain(problem);
  });

  test("partitionName() spells Kafka's '<topic>-<n>'", () => {
    expect(partitionName("orders", 3)).toBe("orders-3");
  });
});

function followers(entries: Record<number, Partial<FollowerState>>): Map<number, FollowerState> {
  return new Map(
    Object.entries(entries).map(([id, state]) => [Number(id), { endOffset: 0, caughtUpAt: 1_000, disconnected: false, ...state }]),
  );
}

describe("highWatermark()", () => {
  test.each([
    ["the leader alone: its fsynced end", [1], {}, 10, 0, 10],
    ["the slowest in-sync follower bounds it", [1, 2, 3], { 2: { endOffset: 7 }, 3: { endOffset: 9 } }, 10, 0, 7],
    ["a follower outside the in-sync set does not", [1, 2], { 2: { endOffset: 9 }, 3: { endOffset: 1 } }, 10, 0, 9],
    ["the leader's unsynced records do not count", [1, 2], { 2: { endOffset: 12 } }, 10, 0, 10],
    ["it never moves back", [1, 2], { 2: { endOffset: 3 } }, 10, 5, 5],
    ["an in-sync follower not heard from holds it at the floor", [1, 2], {}, 10, 4, 4],
  ])("%s", (_, isr, state, leaderSyncedEnd, previous, expected) => {
    expect(highWatermark({ leader: 1, leaderSyncedEnd, isr, followers: followers(state), previous })).toBe(expected);
  });
});

describe("desiredIsr()", () => {
  const now = 10_000;
  test.each([
    ["everyone in sync stays", [1, 2, 3], {}, 0, [1, 2, 3]],
    ["a dropped connection leaves at once", [1, 2, 3], { 2: { disconnected: true } }, 0, [1, 3]],
    ["a follower not caught up for longer than the bound leaves", [1, 2, 3], { 3: { caughtUpAt: now - 6_000 } }, 0, [1, 2]],
    ["one lagging within the bound stays", [1, 2, 3], { 3: { caughtUpAt: now - 4_000 } }, 0, [1, 2, 3]],
    ["a follower at the high watermark rejoins", [1, 3], { 2: { endOffset: 50 } }, 50, [1, 2, 3]],
    ["a follower behind the high watermark does not", [1, 3], { 2: { endOffset: 49 } }, 50, [1, 3]],
    ["a disconnected follower does not rejoin", [1], { 2: { endOffset: 50, disconnected: true } }, 50, [1]],
  ])("%s", (_, isr, state, hw, expected) => {
    const known = followers({ 2: {}, 3: {}, ...state });
    for (const follower of known.values()) if (follower.caughtUpAt === 1_000) follower.caughtUpAt = now;
    expect(desiredIsr({ leader: 1, replicas: [1, 2, 3], isr, followers: known, highWatermark: hw, now, maxLagMs: 5_000 })).toEqual(expected);
  });
});

describe("splitLines()", () => {
  async function* chunks(...parts: string[]): AsyncGenerator<Uint8Array> {
    for (const part of parts) yield new TextEncoder().encode(part);
  }

  test.each([
    [["a\nb\nc\n"], ["a", "b", "c"]],
    [["a\nb"], ["a", "b"]],
    [["a", "b\nc", "\n"], ["ab", "c"]],
    [["\n\n"], ["", ""]],
    [[""], []],
    [["x\r\n"], ["x\r"]],
    [["ab", "c", "d\ne"], ["abcd", "e"]],
    [["a", "\n", "b\n"], ["a", "b"]],
  ])("splitLines(%j) yields %j", async (parts, expected) => {
    const lines: string[] = [];
    for await (const completed of splitLines(chunks(...parts))) {
      completed.starts.forEach((start, index) => lines.push(completed.sources[index]!.toString("utf8", start, completed.ends[index])));
    }
    expect(lines).toEqual(expected);
  });
});

test("leaderlessPartitions() names each partition whose leader is not back", () => {
  const view = { replicas: [1], isr: [1], leaderEpoch: 0, leaderless: false, electionPending: false, endOffset: null, highWatermark: null, sizeBytes: 0 };
  expect(
    leaderlessPartitions([
      { ...view, topic: "a", partition: 0, leader: 5001, online: true },
      { ...view, topic: "a", partition: 1, leader: 5002, online: false },
    ]),
  ).toEqual(["a-1 (leader SPU 5002)"]);
});
