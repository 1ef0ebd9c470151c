import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setLogSink } from "../../../lib/engine/daemon/log.ts";
import { ReplicaManager } from "../../../lib/engine/data-plane/replica-manager.ts";
import type { IsrChange, ReplicaAssignmentInfo, ReplicaReport, SpuAssignment } from "../../../lib/engine/model/replica-info.ts";

const SELF = 5001;
const logged: string[] = [];
setLogSink((line) => logged.push(line));
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

/** A manager of a fresh data directory, and every report and in-sync set ask it sends. */
function makeManager(): { manager: ReplicaManager; dataDir: string; reports: ReplicaReport[][]; asks: IsrChange[][] } {
  const dataDir = mkdtempSync(join(tmpdir(), "cluster-replica-manager-"));
  const reports: ReplicaReport[][] = [];
  const asks: IsrChange[][] = [];
  const manager = new ReplicaManager({
    dataDir,
    selfId: SELF,
    token: "replica-manager-test-token",
    report: (replicas) => reports.push(replicas),
    proposeIsr: (changes) => asks.push(changes),
    scConnected: () => true,
  });
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  cleanups.push(() => manager.closeAll());
  return { manager, dataDir, reports, asks };
}

function led(topic: string, topicId: string, partition = 0, followers: number[] = []): ReplicaAssignmentInfo {
  const replicas = [SELF, ...followers];
  return { topic, topicId, partition, replicas, leader: SELF, leaderEpoch: 1, isr: [...replicas] };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

function assignment(...replicas: ReplicaAssignmentInfo[]): SpuAssignment {
  return { spus: [], replicas };
}

async function until<T>(what: string, probe: () => T | undefined): Promise<T> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; log:\n${logged.join("")}`);
    await Bun.sleep(2);
  }
}

describe("ReplicaManager", () => {
  test("apply() of an assignment with a replica opens it and reports it, once the replica code has loaded", async () => {
    const { manager, dataDir, reports } = makeManager();
    manager.apply(assignment(led("orders", "id-1")));
    const report = await until("a report", () => reports.at(-1));
    expect(report.map((entry) => [entry.topic, entry.partition, entry.isLeader])).toEqual([["orders", 0, true]]);
    expect(manager.get("orders", 0)?.isLeader).toBe(true);
    expect(existsSync(join(dataDir, "orders-0"))).toBe(true);
  });

  test("apply() while the replica code loads keeps only the latest assignment: a replica assigned and then unassigned is never opened", async () => {
    const { manager, dataDir, reports } = makeManager();
    manager.apply(assignment(led("orders", "id-1")));
    manager.apply(assignment(led("orders", "id-1"), led("payments", "id-2")));
    manager.apply(assignment(led("payments", "id-2")));
    const report = await until("a report", () => reports.at(-1));
    expect(reports).toHaveLength(1);
    expect(report.map((entry) => entry.topic)).toEqual(["payments"]);
    expect(manager.get("orders", 0)).toBeUndefined();
    expect(existsSync(join(dataDir, "orders-0"))).toBe(false);
  });

  test("apply() of an assignment without replicas reports none at once", () => {
    const { manager, reports } = makeManager();
    manager.apply(assignment());
    expect(reports).toEqual([[]]);
  });

  test("apply() of a whole assignment of 60 replicas works in slices: timers run before it is done, and one report holds them all", async () => {
    const { manager, reports } = makeManager();
    manager.apply(assignment(...Array.from({ length: 60 }, (_, partition) => led("wide", "id-w", partition))));
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    await until("every replica applied", () => (manager.applying ? undefined : true));
    clearInterval(timer);
    expect(ticks).toBeGreaterThan(0);
    expect(reports).toHaveLength(1);
    expect(reports[0]!).toHaveLength(60);
    expect(manager.get("wide", 59)?.isLeader).toBe(true);
  });

  test("applyChanges() opens, updates and removes only the replicas it names, and reports only those whose figures moved", async () => {
    const { manager, dataDir, reports } = makeManager();
    manager.apply(assignment(led("a", "id-a"), led("b", "id-b")));
    await until("the first report", () => reports.at(-1));
    reports.length = 0;
    manager.applyChanges({ replicas: [led("c", "id-c"), { ...led("a", "id-a"), leaderEpoch: 2 }], removed: [{ topic: "b", topicId: "id-b", partition: 0 }] });
    await until("a report", () => reports.at(-1));
    expect(reports.at(-1)!.map((entry) => [entry.topic, entry.leaderEpoch]).sort()).toEqual([
      ["a", 2],
      ["c", 1],
    ]);
    expect(manager.get("b", 0)).toBeUndefined();
    expect(existsSync(join(dataDir, "b-0"))).toBe(false);
    expect(manager.get("a", 0)?.assignment.leaderEpoch).toBe(2);
    // A removal naming an earlier topic of the same name leaves the current one alone.
    manager.applyChanges({ replicas: [], removed: [{ topic: "c", topicId: "older", partition: 0 }] });
    await turn();
    expect(manager.get("c", 0)).toBeDefined();
  });

  test("in-sync set asks of one turn go to the SC in one message, and an ask not answered is not repeated", async () => {
    const { manager, asks } = makeManager();
    const infos = [0, 1, 2].map((partition) => led("isr", "id-i", partition, [5002]));
    manager.apply(assignment(...infos));
    await until("the replicas", () => (manager.applying ? undefined : true));
    for (const info of infos) {
      const replica = manager.get("isr", info.partition)!;
      replica.followerConnected(5002);
      replica.followerDisconnected(5002);
    }
    await turn();
    expect(asks).toEqual([infos.map((info) => ({ topic: "isr", partition: info.partition, leaderEpoch: 1, isr: [SELF] }))]);
    const later = Date.now() + 60_000;
    for (const info of infos) manager.get("isr", info.partition)!.checkIsr(later);
    await turn();
    expect(asks).toHaveLength(1);
  });

  test("an ask the SC answers with another set is asked again only a while after the answer; one answered with it is done", async () => {
    const { manager, asks } = makeManager();
    const info = led("isr", "id-i", 0, [5002]);
    manager.apply(assignment(info));
    await until("the replica", () => (manager.applying ? undefined : true));
    const replica = manager.get("isr", 0)!;
    replica.followerConnected(5002);
    replica.followerDisconnected(5002);
    await turn();
    expect(asks).toHaveLength(1);
    // Refused: the SC answers with the set that stands.
    manager.applyChanges({ replicas: [info], removed: [] });
    await turn();
    const answeredAt = Date.now();
    replica.checkIsr(answeredAt + 100);
    await turn();
    expect(asks).toHaveLength(1);
    replica.checkIsr(answeredAt + 1_500);
    await turn();
    expect(asks).toHaveLength(2);
    // Taken: the SC answers with the set asked for, and nothing more is asked.
    manager.applyChanges({ replicas: [{ ...info, isr: [SELF] }], removed: [] });
    await turn();
    replica.checkIsr(answeredAt + 60_000);
    await turn();
    expect(asks).toHaveLength(2);
  });
});
