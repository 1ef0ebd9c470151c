/**
 * The SC's Controller in process, on a real metadata store in a temp directory: what each SPU
 * is told, in how many messages, and how many metadata writes a turn makes; when elections
 * open; registering and unregistering SPUs. The hooks record what the SPU sessions would send.
 * The controller reads no clock: the one time it depends on, the SC's start-up grace, reaches
 * it as a call (`endStartGrace`), which the tests make.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Controller, type Changes, type ControllerOptions } from "../../../lib/engine/control-plane/controller.ts";
import { MetadataStore, type PartitionObject } from "../../../lib/engine/control-plane/store.ts";
import { seedSpus } from "../../../lib/engine/control-plane/catalog.ts";
import { setLogSink } from "../../../lib/engine/daemon/log.ts";
import type { AssignmentChanges, IsrChange, SpuAssignment } from "../../../lib/engine/model/replica-info.ts";

const SPUS = [5001, 5002, 5003];
const logged: string[] = [];
setLogSink((line) => logged.push(line));
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

type Sent = { id: number; whole?: SpuAssignment; changes?: AssignmentChanges };

/** A controller of 3 registered SPUs (`online` of them online) on a fresh store, and everything it sends them, its listeners and the sessions it ends. */
function makeController(options: ControllerOptions & { online?: number[] } = {}) {
  logged.length = 0;
  const dir = mkdtempSync(join(tmpdir(), "cluster-controller-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  seedSpus(dir, { host: "127.0.0.1", spus: SPUS.map((id, index) => ({ id, publicPort: 40_000 + index, privatePort: 41_000 + index })) });
  const sent: Sent[] = [];
  const watched: Changes[] = [];
  const disconnected: number[] = [];
  const controller = new Controller(new MetadataStore(dir), {
    push: (id, whole) => sent.push({ id, whole }),
    pushChanges: (id, changes) => sent.push({ id, changes }),
    disconnect: (id) => disconnected.push(id),
  }, options);
  cleanups.push(() => controller.closeElections());
  controller.onChange((changes) => watched.push(changes));
  for (const id of options.online ?? SPUS) controller.spuOnline(id);
  return { dir, controller, sent, watched, disconnected };
}

/** Lets the controller end its turn, and any metadata write it started finish. */
async function settle(controller: Controller, commits?: number): Promise<void> {
  const deadline = Date.now() + 5_000;
  do {
    await new Promise((resolve) => setImmediate(resolve));
    await Bun.sleep(1);
  } while (commits !== undefined && controller.commits < commits && Date.now() < deadline);
  await new Promise((resolve) => setImmediate(resolve));
}

function stored(dir: string, name: string): PartitionObject {
  return Bun.YAML.parse(readFileSync(join(dir, "Partition", `${name}.yaml`), "utf8")) as PartitionObject;
}

function changesTo(sent: Sent[], id: number): AssignmentChanges[] {
  return sent.filter((entry) => entry.id === id && entry.changes).map((entry) => entry.changes!);
}

/** The in-sync set change dropping `gone` from every partition `leader` leads. */
function shrinks(controller: Controller, leader: number, gone: number): IsrChange[] {
  return controller
    .listPartitions()
    .filter((partition) => partition.leader === leader)
    .map((partition) => ({ topic: partition.topic, partition: partition.partition, leaderEpoch: partition.leaderEpoch, isr: partition.isr.filter((id) => id !== gone) }));
}

describe("Controller", () => {
  test("an SPU coming online is sent its whole assignment once; a topic created after reaches each replica as one message of changes", async () => {
    const { controller, sent } = makeController();
    expect(sent.map((entry) => [entry.id, entry.whole?.replicas.length])).toEqual([
      [5001, 0],
      [5002, 0],
      [5003, 0],
    ]);
    sent.length = 0;
    await controller.createTopic({ name: "t", partitions: 30, replication: 3 });
    await settle(controller);
    for (const id of SPUS) {
      const messages = changesTo(sent, id);
      expect(messages).toHaveLength(1);
      expect(messages[0]!.replicas.map((replica) => replica.partition).sort((a, b) => a - b)).toEqual([...Array(30).keys()]);
    }
    expect(sent.some((entry) => entry.whole)).toBe(false);
  });

  const turns: [string, (controller: Controller) => void][] = [
    [
      "one message from each leader",
      (controller) => {
        for (const leader of [5001, 5002]) controller.changeIsr(leader, shrinks(controller, leader, 5003));
      },
    ],
    [
      "one message per partition",
      (controller) => {
        for (const leader of [5001, 5002]) for (const change of shrinks(controller, leader, 5003)) controller.changeIsr(leader, [change]);
      },
    ],
  ];
  for (const [how, ask] of turns) {
    test(`in-sync set asks of one turn (${how}) make one metadata write, then one message to each replica holding every change`, async () => {
      const { dir, controller, sent, watched } = makeController();
      await controller.createTopic({ name: "t", partitions: 30, replication: 3 });
      await settle(controller);
      sent.length = 0;
      watched.length = 0;
      const asked = [...shrinks(controller, 5001, 5003), ...shrinks(controller, 5002, 5003)];
      ask(controller);
      await settle(controller, 1);
      expect(controller.commits).toBe(1);
      expect(logged.filter((line) => line.includes(`metadata: committed ${asked.length} partition change(s) in one write`))).toHaveLength(1);
      for (const id of SPUS) {
        const messages = changesTo(sent, id);
        expect(messages).toHaveLength(1);
        expect(messages[0]!.replicas.map((replica) => replica.partition).sort((a, b) => a - b)).toEqual(asked.map((change) => change.partition).sort((a, b) => a - b));
        expect(messages[0]!.replicas.every((replica) => !replica.isr.includes(5003))).toBe(true);
      }
      for (const change of asked) expect(stored(dir, `t-${change.partition}`).leaderAndIsr.isr).toEqual(change.isr);
      expect([...watched.flatMap((changes) => [...changes.Partition])].sort()).toEqual(asked.map((change) => `t-${change.partition}`).sort());
    });
  }

  test("an ask for the in-sync set already recorded is answered to the asker alone, at once, without a metadata write", async () => {
    const { dir, controller, sent } = makeController();
    await controller.createTopic({ name: "t", partitions: 3, replication: 3 });
    await settle(controller);
    const partition = controller.listPartitions().find((entry) => entry.leader === 5001)!;
    const file = join(dir, "Partition", `t-${partition.partition}.yaml`);
    const before = statSync(file).mtimeMs;
    sent.length = 0;
    const same = { topic: "t", partition: partition.partition, leaderEpoch: partition.leaderEpoch, isr: partition.isr };
    controller.changeIsr(5001, [same]);
    controller.changeIsr(5001, [same]);
    await settle(controller);
    expect(statSync(file).mtimeMs).toBe(before);
    expect(sent.map((entry) => [entry.id, entry.changes?.replicas.map((replica) => replica.partition)])).toEqual([[5001, [partition.partition]]]);
  });

  const refusals: [string, (partition: { leader: number; leaderEpoch: number; isr: number[] }) => { from: number; change: Omit<IsrChange, "topic" | "partition"> }][] = [
    ["from an SPU that does not lead", (p) => ({ from: p.isr.find((id) => id !== p.leader)!, change: { leaderEpoch: p.leaderEpoch, isr: [p.leader] } })],
    ["at an old epoch", (p) => ({ from: p.leader, change: { leaderEpoch: p.leaderEpoch - 1, isr: [p.leader] } })],
    ["without the leader", (p) => ({ from: p.leader, change: { leaderEpoch: p.leaderEpoch, isr: p.isr.filter((id) => id !== p.leader) } })],
  ];
  for (const [what, make] of refusals) {
    test(`an ask ${what} is refused and answered to the asker with the set that stands, without a write`, async () => {
      const { controller, sent } = makeController();
      await controller.createTopic({ name: "t", partitions: 1, replication: 3 });
      await settle(controller);
      sent.length = 0;
      const partition = controller.listPartitions()[0]!;
      const { from, change } = make(partition);
      controller.changeIsr(from, [{ topic: "t", partition: 0, ...change }]);
      await settle(controller);
      expect(controller.commits).toBe(0);
      expect(sent).toEqual([{ id: from, changes: { replicas: [expect.objectContaining({ partition: 0, isr: partition.isr, leaderEpoch: partition.leaderEpoch })], removed: [] } }]);
      expect(logged.some((line) => line.includes(`refused an in-sync set change from SPU ${from}`))).toBe(true);
    });
  }

  test("asks made while a metadata write runs go into the next write, and each partition is told once it is written", async () => {
    const { controller, sent } = makeController();
    await controller.createTopic({ name: "t", partitions: 30, replication: 3 });
    await settle(controller);
    sent.length = 0;
    controller.changeIsr(5001, shrinks(controller, 5001, 5003));
    // The first write has begun (the turn ended) but not finished: these wait for the next.
    await new Promise((resolve) => setImmediate(resolve));
    const second = shrinks(controller, 5002, 5003);
    controller.changeIsr(5002, second);
    await settle(controller, 2);
    expect(controller.commits).toBe(2);
    const told = changesTo(sent, 5003).flatMap((message) => message.replicas.map((replica) => replica.partition));
    expect(told.sort((a, b) => a - b)).toEqual(
      [...shrinks(controller, 5001, -1), ...shrinks(controller, 5002, -1)].map((change) => change.partition).sort((a, b) => a - b),
    );
    expect(changesTo(sent, 5003).every((message) => message.replicas.every((replica) => !replica.isr.includes(5003)))).toBe(true);
  });

  test("an SPU going offline has its partitions re-led in one metadata write, and the others hear one message each", async () => {
    const { dir, controller, sent } = makeController();
    await controller.createTopic({ name: "t", partitions: 30, replication: 3 });
    await settle(controller);
    controller.endStartGrace(0);
    sent.length = 0;
    const led = controller.listPartitions().filter((partition) => partition.leader === 5003);
    controller.spuOffline(5003);
    await settle(controller, 1);
    expect(controller.commits).toBe(1);
    for (const partition of led) expect(stored(dir, `t-${partition.partition}`).leaderAndIsr).toMatchObject({ leaderEpoch: 1, isr: partition.isr.filter((id) => id !== 5003) });
    for (const id of [5001, 5002]) expect(changesTo(sent, id)).toHaveLength(1);
    expect(changesTo(sent, 5003)).toEqual([]);
  });

  test("partitions added to a topic reach only their replicas, as one message of changes each, and watchers hear of the topic and them", async () => {
    const { controller, sent, watched } = makeController();
    await controller.createTopic({ name: "t", partitions: 1, replication: 2 });
    await settle(controller);
    sent.length = 0;
    watched.length = 0;
    const added = await controller.addPartitions("t", 2);
    await settle(controller);
    expect(added.map((partition) => partition.spec.replicas)).toEqual([
      [5002, 5003],
      [5003, 5001],
    ]);
    expect(SPUS.map((id) => changesTo(sent, id).map((message) => message.replicas.map((replica) => `${replica.partition}@${replica.leader}`).sort()))).toEqual([
      [["2@5003"]],
      [["1@5002"]],
      [["1@5002", "2@5003"]],
    ]);
    expect(watched.map((changes) => [[...changes.Topic], [...changes.Partition].sort()])).toEqual([[["t"], ["t-1", "t-2"]]]);
    expect(controller.topicWithPartitions("t")!.topic.spec.partitions).toBe(3);
  });

  test("a deleted topic reaches each replica as removals in one message", async () => {
    const { controller, sent } = makeController();
    await controller.createTopic({ name: "t", partitions: 4, replication: 3 });
    await settle(controller);
    sent.length = 0;
    await controller.deleteTopic("t");
    await settle(controller);
    for (const id of SPUS) {
      const messages = changesTo(sent, id);
      expect(messages).toHaveLength(1);
      expect(messages[0]!.replicas).toEqual([]);
      expect(messages[0]!.removed.map((removed) => removed.partition).sort()).toEqual([0, 1, 2, 3]);
    }
  });

  test.each([
    ["before the start grace ends, while SPU 5003 has not come back since the SC started", false, []],
    ["once the start grace has ended", true, [(controller: Controller) => controller.endStartGrace(250)]],
    ["once every registered SPU has been online", true, [(controller: Controller) => controller.spuOnline(5003)]],
  ])("a leader that goes offline %s is re-led at once: %p", async (_, reLed, before) => {
    const { controller } = makeController({ online: [5001, 5002] });
    await controller.createTopic({ name: "t", partitions: 2, replication: 2 });
    await settle(controller);
    for (const step of before) step(controller);
    await settle(controller);
    const ledBy5001 = controller.listPartitions().find((partition) => partition.leader === 5001)!;
    controller.spuOffline(5001);
    await settle(controller, reLed ? 1 : undefined);
    expect(controller.commits).toBe(reLed ? 1 : 0);
    expect(controller.partitionView(`t-${ledBy5001.partition}`)).toMatchObject(
      reLed ? { leader: 5002, leaderEpoch: 1, isr: [5002], electionPending: false } : { leader: 5001, leaderEpoch: 0, electionPending: true },
    );
    if (reLed) return;
    // The grace ending later opens elections for what waited.
    controller.endStartGrace(250);
    await settle(controller, 1);
    expect(logged.some((line) => line.includes("(250 ms after the SC started)"))).toBe(true);
    expect(controller.partitionView(`t-${ledBy5001.partition}`)).toMatchObject({ leader: 5002, leaderEpoch: 1, isr: [5002] });
  });

  test("registering an SPU writes it and sends every online SPU the new endpoints; registering one twice is refused with SPU_EXISTS", async () => {
    const { dir, controller, sent } = makeController();
    sent.length = 0;
    controller.registerSpu(5004, "127.0.0.1", { publicPort: 40_003, privatePort: 41_003 });
    await settle(controller);
    expect(controller.listSpus().map((spu) => [spu.spec.spuId, spu.status.resolution])).toEqual([
      [5001, "Online"],
      [5002, "Online"],
      [5003, "Online"],
      [5004, "Offline"],
    ]);
    expect(statSync(join(dir, "SPU", "custom-spu-5004.yaml")).isFile()).toBe(true);
    for (const id of SPUS) expect(changesTo(sent, id).map((changes) => changes.spus?.map((spu) => spu.id))).toEqual([[5001, 5002, 5003, 5004]]);
    expect(() => controller.registerSpu(5001, "127.0.0.1", { publicPort: 1, privatePort: 2 })).toThrow(expect.objectContaining({ code: "SPU_EXISTS" }));
  });

  test("unregistering an SPU removes it and ends its session; unregistering one not registered is refused with NO_SPU", async () => {
    const { dir, controller, disconnected } = makeController();
    controller.unregisterSpu(5003);
    expect(disconnected).toEqual([5003]);
    expect(controller.isRegistered(5003)).toBe(false);
    expect(() => statSync(join(dir, "SPU", "custom-spu-5003.yaml"))).toThrow("ENOENT");
    expect(() => controller.unregisterSpu(5009)).toThrow(expect.objectContaining({ code: "NO_SPU" }));
  });

  test("a topic's settings are stored as given, kept by a new controller on the same store, and sent with each replica's assignment", async () => {
    const { dir, controller, sent } = makeController();
    sent.length = 0;
    await controller.createTopic({ name: "kept", partitions: 1, replication: 3, compressionType: "Gzip", retentionSeconds: 60, segmentSize: 4096, maxPartitionSize: 8192 });
    await settle(controller);
    const told = changesTo(sent, 5001).flatMap((changes) => changes.replicas);
    expect(told).toMatchObject([{ topic: "kept", compressionType: "Gzip", retentionSeconds: 60, segmentSize: 4096, maxPartitionSize: 8192 }]);
    const again = new Controller(new MetadataStore(dir), { push: () => {}, pushChanges: () => {}, disconnect: () => {} });
    expect(again.listTopics().map((topic) => topic.spec)).toMatchObject([{ compressionType: "Gzip", retentionSeconds: 60, segmentSize: 4096, maxPartitionSize: 8192 }]);
    expect(again.listTopics()[0]!.spec).not.toHaveProperty("system");
  });

  test("settings Fluvio's SC refuses are refused here, naming the limit, and nothing is stored", async () => {
    const { dir, controller } = makeController();
    await expect(controller.createTopic({ name: "short", retentionSeconds: 5 })).rejects.toThrow("retention time must be at least 10 seconds");
    await expect(controller.createTopic({ name: "small", segmentSize: 100 })).rejects.toThrow("segment size must be from 1024 bytes");
    await expect(controller.createTopic({ name: "odd", system: "yes" })).rejects.toThrow("system must be true or false");
    expect(controller.listTopics()).toEqual([]);
    expect(new MetadataStore(dir).list("Topic")).toEqual([]);
  });

  test("with system topics, the first SPU online gets Fluvio's consumer-offset, made once, and user partitions are placed as without it", async () => {
    const { controller } = makeController({ systemTopics: true });
    await settle(controller);
    await controller.createTopic({ name: "user", partitions: 3, replication: 1 });
    await settle(controller);
    const partitions = controller.listPartitions();
    expect(partitions.map((partition) => [partition.topic, partition.leader])).toEqual([
      ["consumer-offset", 5001],
      ["user", 5001],
      ["user", 5002],
      ["user", 5003],
    ]);
    expect(controller.listTopics().find((topic) => topic.name === "consumer-offset")!.spec).toMatchObject({ partitions: 1, replicationFactor: 1, system: true, retentionSeconds: 604_800 });
    controller.spuOffline(5002);
    controller.spuOnline(5002);
    await settle(controller);
    expect(controller.listTopics().filter((topic) => topic.name === "consumer-offset")).toHaveLength(1);
  });

  test("every SPU is told which SPU leads consumer-offset-0, holding a replica of it or not: in its whole assignment and once the partition is made", async () => {
    const { controller, sent } = makeController({ systemTopics: true, online: [5001] });
    while (!controller.listTopics().some((topic) => topic.name === "consumer-offset")) await settle(controller);
    await settle(controller);
    // 5001 came online before the topic was made: it hears of the leader as a change.
    expect(changesTo(sent, 5001).some((changes) => changes.consumerOffsetLeader === 5001)).toBe(true);
    controller.spuOnline(5002);
    controller.spuOnline(5003);
    await settle(controller);
    for (const id of [5002, 5003]) {
      const whole = sent.filter((entry) => entry.id === id && entry.whole).at(-1)!.whole!;
      expect({ id, leader: whole.consumerOffsetLeader, holds: whole.replicas.some((replica) => replica.topic === "consumer-offset") }).toEqual({ id, leader: 5001, holds: false });
    }
    // A change to another topic's partitions does not repeat it.
    const before = sent.length;
    await controller.createTopic({ name: "user", partitions: 1, replication: 1 });
    await settle(controller);
    expect(sent.slice(before).some((entry) => entry.changes?.consumerOffsetLeader !== undefined)).toBe(false);
  });

  test("a deleted topic's partitions are told to the consumer-offset leader too, held there or not, so their offsets go", async () => {
    const { controller, sent } = makeController({ systemTopics: true });
    while (!controller.listTopics().some((topic) => topic.name === "consumer-offset")) await settle(controller);
    await controller.createTopic({ name: "user", partitions: 3, replication: 1 });
    await settle(controller);
    const leader = controller.listPartitions().find((partition) => partition.topic === "consumer-offset")!.leader;
    const before = sent.length;
    await controller.deleteTopic("user");
    await settle(controller);
    const removedTo = (id: number) => sent.slice(before).filter((entry) => entry.id === id).flatMap((entry) => entry.changes?.removed ?? []).map((removed) => removed.partition).sort();
    expect(removedTo(leader)).toEqual([0, 1, 2]);
    for (const other of [5001, 5002, 5003].filter((id) => id !== leader)) expect(removedTo(other)).toHaveLength(1);
  });
});
