/**
 * The consumer offsets on a real consumer-offset replica in a temp directory: what is
 * committed is a record of the partition in Fluvio's entry encoding, read back by a new
 * leadership (a reopened replica) from the log, checkpoints included, and refused where this
 * SPU does not lead the partition.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setLogSink } from "../../../lib/engine/daemon/log.ts";
import { ConsumerOffsetError, ConsumerOffsets } from "../../../lib/engine/data-plane/consumer-offsets.ts";
import { Replica } from "../../../lib/engine/data-plane/replica.ts";
import type { ReplicaAssignmentInfo } from "../../../lib/engine/model/replica-info.ts";
import { decodeConsumerOffsetEntry } from "../../../lib/engine/wire/fluvio/consumer-offsets.ts";
import { openPartitionLog } from "../../../lib/engine/storage/partition-log.ts";
import { decodeBatches } from "../../../lib/engine/wire/fluvio/record-batch.ts";

const SELF = 5001;
const logged: string[] = [];
setLogSink((line) => logged.push(line));
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "cluster-offsets-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function assignment(changes: Partial<ReplicaAssignmentInfo> = {}): ReplicaAssignmentInfo {
  return { topic: "consumer-offset", topicId: "co-id", partition: 0, replicas: [SELF], leader: SELF, leaderEpoch: 0, isr: [SELF], ...changes };
}

/** The consumer-offset replica in `dir` as SPU 5001 holds it, and the offsets served from it. */
function open(dir: string, changes: Partial<ReplicaAssignmentInfo> = {}) {
  const replica = new Replica(dir, assignment(changes), SELF, { proposeIsr: () => {}, changed: () => {}, scConnected: () => true });
  const replicas = {
    get: (topic: string, partition: number) => (topic === "consumer-offset" && partition === 0 ? replica : undefined),
    consumerOffsetLeader: changes.leader ?? SELF,
    privateEndpointOf: () => undefined,
  };
  return { replica, offsets: new ConsumerOffsets(replicas, { selfId: SELF, token: "t" }) };
}

/** Every entry the replica's log in `dir` holds, in order. */
function entriesIn(dir: string) {
  const log = openPartitionLog(dir);
  try {
    const entries = [];
    for (let offset = log.startOffset; offset < log.endOffset; ) {
      const slice = log.read(offset, { maxBytes: 1 << 22 });
      for (const batch of decodeBatches(slice.bytes)) for (const record of batch.records) entries.push(decodeConsumerOffsetEntry(record.value));
      offset = slice.nextOffset;
    }
    return entries;
  } finally {
    log.close();
  }
}

const ORDERS_0 = { topic: "orders", partition: 0 };
const ORDERS_1 = { topic: "orders", partition: 1 };

describe("ConsumerOffsets", () => {
  test("ConsumerOffsets.commit() keeps each offset as a record, and a new leadership reads them back from the log", async () => {
    const dir = tempDir();
    const first = open(dir);
    await first.offsets.commit(ORDERS_0, "billing", 4);
    await first.offsets.commit(ORDERS_1, "billing", 9);
    await first.offsets.commit(ORDERS_0, "billing", 6);
    await first.offsets.commit(ORDERS_0, "audit", 1);
    expect(await first.offsets.committed(ORDERS_0, "billing")).toBe(6);
    expect(await first.offsets.committed(ORDERS_1, "audit")).toBeNull();
    first.replica.close();

    expect(entriesIn(dir).map((entry) => entry.type)).toEqual(["updated", "updated", "updated", "updated"]);
    const second = open(dir, { leaderEpoch: 1 });
    cleanups.push(() => second.replica.close());
    const listed = await second.offsets.list(null);
    expect(listed.map(({ consumerId, replica, offset }) => [consumerId, replica.partition, offset]).sort()).toEqual([
      ["audit", 0, 1],
      ["billing", 0, 6],
      ["billing", 1, 9],
    ]);
    for (const entry of listed) expect(Math.abs(entry.modifiedTime - Date.now() / 1000)).toBeLessThan(60);
    expect((await second.offsets.list({ replica: ORDERS_0, consumerId: "billing" })).map((entry) => entry.offset)).toEqual([6]);
    expect(logged.some((line) => line.includes("3 read back from 'consumer-offset-0' (leader epoch 1)"))).toBe(true);
  });

  test("ConsumerOffsets.delete() removes an offset for good, and deleting one never kept writes nothing", async () => {
    const dir = tempDir();
    const first = open(dir);
    await first.offsets.commit(ORDERS_0, "billing", 4);
    await first.offsets.commit(ORDERS_1, "billing", 2);
    expect(await first.offsets.delete(ORDERS_0, "billing")).toBe(true);
    expect(await first.offsets.delete(ORDERS_0, "nobody")).toBe(false);
    first.replica.close();
    expect(entriesIn(dir).map((entry) => entry.type)).toEqual(["updated", "updated", "deleted"]);
    const second = open(dir, { leaderEpoch: 1 });
    cleanups.push(() => second.replica.close());
    expect((await second.offsets.list(null)).map((entry) => [entry.replica.partition, entry.offset])).toEqual([[1, 2]]);
  });

  test("after more than 100 changes a checkpoint batch writes the whole table, and a rebuild from it equals the table", async () => {
    const dir = tempDir();
    const first = open(dir);
    for (let offset = 0; offset < 101; offset++) await first.offsets.commit(offset % 2 === 0 ? ORDERS_0 : ORDERS_1, "billing", offset);
    await first.offsets.commit(ORDERS_0, "late", 3);
    first.replica.close();
    const types = entriesIn(dir).map((entry) => entry.type);
    // 101 updates, the checkpoint and the two offsets it holds, then the late update.
    expect(types.length).toBe(101 + 1 + 2 + 1);
    expect(types.slice(100, 104)).toEqual(["updated", "checkpoint", "updated", "updated"]);
    const second = open(dir, { leaderEpoch: 1 });
    cleanups.push(() => second.replica.close());
    expect((await second.offsets.list(null)).map((entry) => [entry.consumerId, entry.replica.partition, entry.offset]).sort()).toEqual([
      ["billing", 0, 100],
      ["billing", 1, 99],
      ["late", 0, 3],
    ]);
  });

  test("ConsumerOffsets.forgetPartitions() drops every consumer's offset on deleted partitions in one batch, and keeps the rest", async () => {
    const dir = tempDir();
    const first = open(dir);
    await first.offsets.commit(ORDERS_0, "billing", 4);
    await first.offsets.commit(ORDERS_0, "audit", 2);
    await first.offsets.commit(ORDERS_1, "billing", 9);
    expect(await first.offsets.forgetPartitions([ORDERS_0, { topic: "other", partition: 0 }])).toBe(2);
    first.replica.close();
    const second = open(dir, { leaderEpoch: 1 });
    cleanups.push(() => second.replica.close());
    expect((await second.offsets.list(null)).map((entry) => [entry.consumerId, entry.replica.partition])).toEqual([["billing", 1]]);
  });

  test("a follower of the consumer-offset partition refuses to list or delete with NOT_LEADER, naming the leader", async () => {
    const { replica, offsets } = open(tempDir(), { leader: 5002, replicas: [5002, SELF], isr: [5002, SELF] });
    cleanups.push(() => replica.close());
    const refusal = await offsets.list(null).catch((error) => error);
    expect(refusal).toBeInstanceOf(ConsumerOffsetError);
    expect({ code: refusal.code, message: refusal.message }).toEqual({ code: "NOT_LEADER", message: "SPU 5001 does not lead partition 'consumer-offset-0' (SPU 5002 does)" });
    expect((await offsets.delete(ORDERS_0, "billing").catch((error) => error)).code).toBe("NOT_LEADER");
    // A commit goes to the leader, whose endpoint this SPU was never told.
    expect((await offsets.commit(ORDERS_0, "billing", 1).catch((error) => error)).code).toBe("NO_SPU");
  });
});
