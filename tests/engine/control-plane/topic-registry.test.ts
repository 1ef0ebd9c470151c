/**
 * The SC's TopicRegistry in process, on a real metadata store in a temp directory: what a
 * create refuses and what it places and writes, which in-sync set asks it stages, elections
 * building on changes staged before them, and what a registry opened on the same store reads
 * back. (Its commits on a full disk are in tests/e2e/disk-full.test.ts.) It reads no clock:
 * nothing here waits.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MetadataStore } from "../../../lib/engine/control-plane/store.ts";
import { AdminRefusal, TopicRegistry } from "../../../lib/engine/control-plane/topic-registry.ts";

const SPUS = [5001, 5002, 5003];
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/** A registry on a fresh store, with topic `t` (one partition on all three SPUs) when `withTopic`. */
async function makeRegistry(options: { withTopic?: boolean } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "cluster-registry-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const store = new MetadataStore(dir);
  const registry = new TopicRegistry(store);
  if (options.withTopic) await registry.create({ name: "t", replication: 3 }, SPUS);
  return { dir, store, registry };
}

const allOnline = () => true;
const offline = (...ids: number[]) => (id: number) => !ids.includes(id);

describe("TopicRegistry.create()", () => {
  test.each([
    ["an empty name", "TOPIC_INVALID", "cannot be empty", { name: "" }, SPUS],
    ["a name with a slash", "TOPIC_INVALID", "may only hold letters", { name: "a/b" }, SPUS],
    ["no name at all", "TOPIC_INVALID", "cannot be empty", { name: 7 }, SPUS],
    ["0 partitions", "TOPIC_INVALID", "partitions must be an integer from 1 to 1000, not '0'", { name: "t", partitions: 0 }, SPUS],
    ["1001 partitions", "TOPIC_INVALID", "not '1001'", { name: "t", partitions: 1001 }, SPUS],
    ["partitions given as null", "TOPIC_INVALID", "not 'null'", { name: "t", partitions: null }, SPUS],
    ["replication 0", "TOPIC_INVALID", "replication must be an integer of at least 1", { name: "t", replication: 0 }, SPUS],
    ["a compression type Fluvio does not have", "TOPIC_INVALID", "not 'Brotli'", { name: "t", compressionType: "Brotli" }, SPUS],
    ["replication 3 with two SPUs online", "INSUFFICIENT_SPUS", "2 are online (5001, 5002)", { name: "t", replication: 3 }, [5001, 5002]],
    ["replication 1 with no SPU online", "INSUFFICIENT_SPUS", "0 are online", { name: "t" }, []],
    ["the name of a topic that exists", "TOPIC_EXISTS", "topic 'taken' already exists", { name: "taken" }, SPUS],
  ])("refuses %s with %s (%s) and writes nothing", async (_, code, message, request, online) => {
    const { store, registry } = await makeRegistry();
    await registry.create({ name: "taken" }, SPUS);
    const refused = await registry.create(request, online).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(AdminRefusal);
    expect(refused).toMatchObject({ code });
    expect((refused as AdminRefusal).message).toContain(message);
    expect(store.list<{ name: string }>("Topic").map((topic) => topic.name)).toEqual(["taken"]);
    expect(store.list("Partition")).toHaveLength(1);
  });

  test.each([
    [1, 1, [1, 0, 0]],
    [3, 1, [1, 1, 1]],
    [3, 2, [1, 1, 1]],
    [6, 3, [2, 2, 2]],
  ])("places %p partitions of replication %p on distinct SPUs, leaders spread %j, each in sync and at epoch 0, and writes them", async (partitions, replication, ledBySpu) => {
    const { store, registry } = await makeRegistry();
    await registry.create({ name: "spread", partitions, replication }, SPUS);
    const placed = registry.partitionsOf("spread");
    expect(placed.map((partition) => partition.spec.partition)).toEqual(Array.from({ length: partitions }, (_, index) => index));
    for (const { spec, leaderAndIsr } of placed) {
      expect(new Set(spec.replicas).size).toBe(replication);
      expect(leaderAndIsr).toEqual({ leader: spec.replicas[0]!, leaderEpoch: 0, isr: spec.replicas });
    }
    expect(SPUS.map((id) => placed.filter((partition) => partition.leaderAndIsr.leader === id).length)).toEqual(ledBySpu);
    const reread = new TopicRegistry(store);
    expect(reread.partitionsOf("spread").map((partition) => partition.leaderAndIsr)).toEqual(placed.map((partition) => partition.leaderAndIsr));
    expect(reread.getTopic("spread")?.spec).toMatchObject({ partitions, replicationFactor: replication, compressionType: "Any" });
  });
});

describe("TopicRegistry.addPartitions()", () => {
  test.each([
    ["a topic that does not exist", "NO_TOPIC", "topic 'absent' does not exist", "absent", 1, SPUS],
    ["a system topic", "SYSTEM_TOPIC", "'sys' is a system topic", "sys", 1, SPUS],
    ["a negative count", "TOPIC_INVALID", "must be a whole number, not '-1'", "t", -1, SPUS],
    ["a count that is not whole", "TOPIC_INVALID", "not '1.5'", "t", 1.5, SPUS],
    ["a count that would pass 1000 partitions", "TOPIC_INVALID", "has 1 partition(s); adding 1000 would pass the most a topic may have, 1000", "t", 1000, SPUS],
    ["replication 3 with two SPUs online", "INSUFFICIENT_SPUS", "2 are online (5001, 5002)", "t", 1, [5001, 5002]],
  ])("refuses %s with %s (%s) and writes nothing", async (_, code, message, topic, count, online) => {
    const { store, registry } = await makeRegistry({ withTopic: true });
    await registry.create({ name: "sys", system: true }, SPUS);
    const refused = await registry.addPartitions(topic, count, online).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(AdminRefusal);
    expect(refused).toMatchObject({ code });
    expect((refused as AdminRefusal).message).toContain(message);
    expect(store.list<{ name: string; spec: { partitions: number } }>("Topic").map((entry) => [entry.name, entry.spec.partitions])).toEqual([["sys", 1], ["t", 1]]);
    expect(store.list("Partition")).toHaveLength(2);
  });

  test.each([
    // [partitions at create, replication, added, online SPUs, replicas of each added partition]
    [1, 1, 2, SPUS, [[5002], [5003]]],
    [1, 2, 2, SPUS, [[5002, 5003], [5003, 5001]]],
    [2, 3, 1, SPUS, [[5003, 5001, 5002]]],
    [3, 1, 4, SPUS, [[5001], [5002], [5003], [5001]]],
    [1, 2, 2, [5001, 5003], [[5003, 5001], [5001, 5003]]],
  ])(
    "to %p partition(s) of replication %p, adds %p numbered after them on %j at %j, led by their first replica at epoch 0 with all in sync, as a create of them all would",
    async (partitions, replication, count, online, replicas) => {
      const { store, registry } = await makeRegistry();
      await registry.create({ name: "grow", partitions, replication }, SPUS);
      const before = registry.partitionsOf("grow").map((partition) => structuredClone(partition));
      const added = await registry.addPartitions("grow", count, online);
      expect(added.map((partition) => [partition.name, partition.spec.replicas])).toEqual(replicas.map((ids, index) => [`grow-${partitions + index}`, ids]));
      for (const { spec, leaderAndIsr } of added) expect(leaderAndIsr).toEqual({ leader: spec.replicas[0]!, leaderEpoch: 0, isr: spec.replicas });
      expect(registry.partitionsOf("grow").slice(0, partitions)).toEqual(before);
      expect(registry.getTopic("grow")!.spec.partitions).toBe(partitions + count);
      if (online === SPUS) {
        const { registry: fresh } = await makeRegistry();
        await fresh.create({ name: "grow", partitions: partitions + count, replication }, SPUS);
        expect(fresh.partitionsOf("grow").map((partition) => partition.spec.replicas)).toEqual(registry.partitionsOf("grow").map((partition) => partition.spec.replicas));
      }
      const reread = new TopicRegistry(store);
      expect(reread.getTopic("grow")!.spec).toEqual(registry.getTopic("grow")!.spec);
      expect(reread.partitionsOf("grow")).toEqual(registry.partitionsOf("grow"));
    },
  );

  test("the added partitions carry the topic's id and settings to their SPUs, and the partitions before keep their leaders, in-sync sets and reports", async () => {
    const { registry } = await makeRegistry();
    await registry.create({ name: "kept", partitions: 1, replication: 3, compressionType: "Gzip", retentionSeconds: 3600, segmentSize: 4096, maxPartitionSize: 8192 }, SPUS);
    const [leader, , third] = registry.partitionsOf("kept")[0]!.spec.replicas as [number, number, number];
    registry.stageIsr(leader, { topic: "kept", partition: 0, leaderEpoch: 0, isr: [leader, third] });
    await registry.commit();
    registry.recordReport(leader, [{ topic: "kept", partition: 0, leaderEpoch: 0, isLeader: true, endOffset: 7, highWatermark: 7, sizeBytes: 700, highWatermarkKnown: true }]);
    const [added] = await registry.addPartitions("kept", 1, SPUS);
    const topicId = registry.getTopic("kept")!.spec.id;
    expect(registry.assignmentOf(added!)).toEqual({
      topic: "kept",
      topicId,
      partition: 1,
      replicas: added!.spec.replicas,
      compressionType: "Gzip",
      retentionSeconds: 3600,
      segmentSize: 4096,
      maxPartitionSize: 8192,
      leader: added!.spec.replicas[0]!,
      leaderEpoch: 0,
      isr: added!.spec.replicas,
    });
    expect(registry.listPartitions(allOnline, "kept")[0]).toMatchObject({ leader, isr: [leader, third], online: true, endOffset: 7, sizeBytes: 700 });
    expect(registry.listPartitions(allOnline, "kept")[1]).toMatchObject({ partition: 1, online: false, sizeBytes: 0 });
  });

  test("a count of 0 adds nothing and writes nothing", async () => {
    const { dir, registry } = await makeRegistry({ withTopic: true });
    expect(await registry.addPartitions("t", 0, SPUS)).toEqual([]);
    expect(registry.getTopic("t")!.spec.partitions).toBe(1);
    expect(existsSync(join(dir, "Partition", "t-1.yaml"))).toBe(false);
  });

  test("two adds at once each build on the other, and a delete made while an add is written removes the partitions it added too", async () => {
    const { store, registry } = await makeRegistry({ withTopic: true });
    const [first, second] = await Promise.all([registry.addPartitions("t", 1, SPUS), registry.addPartitions("t", 2, SPUS)]);
    expect([first!.map((partition) => partition.name), second!.map((partition) => partition.name)]).toEqual([["t-1"], ["t-2", "t-3"]]);
    expect(registry.getTopic("t")!.spec.partitions).toBe(4);
    const adding = registry.addPartitions("t", 1, SPUS);
    const deleted = await registry.delete("t");
    expect((await adding).map((partition) => partition.name)).toEqual(["t-4"]);
    expect(deleted.map((partition) => partition.name)).toEqual(["t-0", "t-1", "t-2", "t-3", "t-4"]);
    expect([store.list("Topic"), store.list("Partition")]).toEqual([[], []]);
  });
});

describe("TopicRegistry.stageIsr()", () => {
  /** An ask by `spuId` for in-sync set `isr` of t-0 at epoch 0, unless `other` says otherwise. */
  const ask = (spuId: number, isr: number[], other: { leaderEpoch?: number; partition?: number } = {}) => ({ spuId, change: { topic: "t", partition: 0, leaderEpoch: 0, isr, ...other } });
  type Ask = ReturnType<typeof ask>;

  test.each<[string, string, (replicas: number[]) => Ask]>([
    ["the leader drops one follower", "staged", ([a, b]) => ask(a!, [a!, b!])],
    ["the leader asks for the set already recorded, in another order", "recorded", ([a, b, c]) => ask(a!, [c!, b!, a!])],
    ["a follower asks", "refused: is not the leader", ([, b]) => ask(b!, [b!])],
    ["the leader asks under an epoch it does not lead", "refused: at epoch 1 is not the leader", ([a]) => ask(a!, [a!], { leaderEpoch: 1 })],
    ["the leader asks for a set without itself", "refused: must hold the leader", ([a, b, c]) => ask(a!, [b!, c!])],
    ["the leader asks for a set with an SPU that holds no replica", "refused: must hold the leader and only replicas", ([a]) => ask(a!, [a!, 5009])],
    ["the leader asks for a partition that does not exist", "refused: no partition 't-4'", ([a]) => ask(a!, [a!], { partition: 4 })],
  ])("when %s, it answers %s", async (_, answer, asked) => {
    const { registry } = await makeRegistry({ withTopic: true });
    const { spuId, change } = asked([...registry.partitionsOf("t")[0]!.spec.replicas]);
    const got = registry.stageIsr(spuId, change);
    if (answer.startsWith("refused: ")) expect((got as { refused: string }).refused).toContain(answer.slice("refused: ".length));
    else expect(got).toEqual({ [answer]: true } as { staged: true } | { recorded: true });
    expect(registry.hasStaged).toBe(answer === "staged");
  });

  test("a staged in-sync set is taken only once committed, and written in replica order", async () => {
    const { store, registry } = await makeRegistry({ withTopic: true });
    const [leader, second, third] = registry.partitionsOf("t")[0]!.spec.replicas as [number, number, number];
    registry.stageIsr(leader, { topic: "t", partition: 0, leaderEpoch: 0, isr: [third, leader] });
    expect(registry.isPending("t-0")).toBe(true);
    expect(registry.listPartitions(allOnline, "t")[0]!.isr).toEqual([leader, second, third]);
    expect(await registry.commit()).toMatchObject({ committed: [{ cause: { kind: "isr", asker: leader } }] });
    expect(registry.isPending("t-0")).toBe(false);
    expect(registry.listPartitions(allOnline, "t")[0]!.isr).toEqual([leader, third]);
    expect(new TopicRegistry(store).getPartition("t-0")!.leaderAndIsr).toEqual({ leader, leaderEpoch: 0, isr: [leader, third] });
  });
});

describe("TopicRegistry.stageElections()", () => {
  test.each([
    ["every SPU is online", [], [], undefined],
    ["a follower is offline", ["second"], [], undefined],
    ["the leader is offline", ["leader"], [], { leader: "second", leaderEpoch: 1, isr: ["second", "third"] }],
    ["the leader and the next replica are offline", ["leader", "second"], [], { leader: "third", leaderEpoch: 1, isr: ["second", "third"] }],
    ["the leader is offline and was the only one in sync", ["leader"], ["leader"], "is the only in-sync replica"],
    ["every replica is offline", ["leader", "second", "third"], [], "and so are the other in-sync replicas"],
  ] as const)("when %s, it elects an online in-sync replica under the next epoch, or leaves the partition leaderless, or keeps it", async (_, down, shrinkTo, expected) => {
    const { registry } = await makeRegistry({ withTopic: true });
    const [leader, second, third] = registry.partitionsOf("t")[0]!.spec.replicas as [number, number, number];
    const byRole = { leader, second, third };
    if (shrinkTo.length > 0) {
      // Staged, not committed: an election builds on the decided in-sync set all the same.
      expect(registry.stageIsr(leader, { topic: "t", partition: 0, leaderEpoch: 0, isr: shrinkTo.map((role) => byRole[role]) })).toEqual({ staged: true });
    }
    const { elected, leaderless } = registry.stageElections(offline(...down.map((role) => byRole[role])));
    if (expected === undefined) {
      expect([elected, leaderless]).toEqual([[], []]);
    } else if (typeof expected === "string") {
      expect(elected).toEqual([]);
      expect(leaderless).toEqual([{ name: "t-0", reason: expect.stringContaining(expected) }]);
    } else {
      expect(elected.map((change) => change.next)).toEqual([{ leader: byRole[expected.leader], leaderEpoch: 1, isr: expected.isr.map((role) => byRole[role]) }]);
      expect(leaderless).toEqual([]);
    }
  });

  test("an election is taken once committed: the view names the new leader, offline until it reports its high watermark known, and the store holds it", async () => {
    const { store, registry } = await makeRegistry({ withTopic: true });
    const [leader, second] = registry.partitionsOf("t")[0]!.spec.replicas as [number, number, number];
    registry.recordReport(leader, [{ topic: "t", partition: 0, leaderEpoch: 0, isLeader: true, endOffset: 4, highWatermark: 4, sizeBytes: 0, highWatermarkKnown: true }]);
    expect(registry.listPartitions(allOnline, "t")[0]).toMatchObject({ leader, online: true, highWatermark: 4 });
    registry.stageElections(offline(leader));
    expect(registry.listPartitions(offline(leader), "t")[0]).toMatchObject({ leader, online: false, electionPending: true });
    await registry.commit();
    expect(registry.listPartitions(offline(leader), "t")[0]).toMatchObject({ leader: second, leaderEpoch: 1, online: false, electionPending: false, highWatermark: null });
    // Its high watermark, a follower's, trails what its predecessor acknowledged until its followers fetch.
    expect(registry.recordReport(second, [{ topic: "t", partition: 0, leaderEpoch: 1, isLeader: true, endOffset: 4, highWatermark: 1, sizeBytes: 0, highWatermarkKnown: false }])).toEqual(["t-0"]);
    expect(registry.listPartitions(offline(leader), "t")[0]).toMatchObject({ leader: second, online: false, leaderless: false, electionPending: false, highWatermark: 1 });
    expect(registry.recordReport(second, [{ topic: "t", partition: 0, leaderEpoch: 1, isLeader: true, endOffset: 4, highWatermark: 4, sizeBytes: 0, highWatermarkKnown: true }])).toEqual(["t-0"]);
    expect(registry.listPartitions(offline(leader), "t")[0]).toMatchObject({ leader: second, online: true, highWatermark: 4 });
    expect(new TopicRegistry(store).getPartition("t-0")!.leaderAndIsr.leader).toBe(second);
  });
});

describe("TopicRegistry on a store", () => {
  test("delete() of a topic removes it and its partitions from every list and from the store; of none, it refuses with NO_TOPIC", async () => {
    const { dir, store, registry } = await makeRegistry({ withTopic: true });
    expect((await registry.delete("t")).map((partition) => partition.name)).toEqual(["t-0"]);
    expect([registry.listTopics(), registry.listPartitions(allOnline)]).toEqual([[], []]);
    expect(existsSync(join(dir, "Topic", "t.yaml")) || existsSync(join(dir, "Partition", "t-0.yaml"))).toBe(false);
    expect(new TopicRegistry(store).topicCount).toBe(0);
    await expect(registry.delete("t")).rejects.toMatchObject({ code: "NO_TOPIC" });
  });

  test("opening a store removes the partitions whose topic is gone, is another of the same name, or counts fewer partitions (a create, add or delete cut short)", async () => {
    const { dir, store, registry } = await makeRegistry({ withTopic: true });
    const kept = registry.getPartition("t-0")!;
    store.put("Partition", "gone-0", { ...kept, name: "gone-0", spec: { ...kept.spec, topic: "gone" } });
    store.put("Partition", "t-1", { ...kept, name: "t-1", spec: { ...kept.spec, partition: 1, topicId: "an-earlier-t" } });
    store.put("Partition", "t-2", { ...kept, name: "t-2", spec: { ...kept.spec, partition: 2 } });
    const reopened = new TopicRegistry(store);
    expect(reopened.listPartitions(allOnline).map((view) => `${view.topic}-${view.partition}`)).toEqual(["t-0"]);
    expect(["gone-0", "t-1", "t-2"].map((name) => existsSync(join(dir, "Partition", `${name}.yaml`)))).toEqual([false, false, false]);
  });
});
