import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setLogSink } from "../../../lib/engine/daemon/log.ts";
import { ReplicaManager } from "../../../lib/engine/data-plane/replica-manager.ts";
import type { ReplicaAssignmentInfo, ReplicaReport, SpuAssignment } from "../../../lib/engine/model/replica-info.ts";

const SELF = 5001;
const logged: string[] = [];
setLogSink((line) => logged.push(line));
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

/** A manager of a fresh data directory, and every report it sends. */
function makeManager(): { manager: ReplicaManager; dataDir: string; reports: ReplicaReport[][] } {
  const dataDir = mkdtempSync(join(tmpdir(), "cluster-replica-manager-"));
  const reports: ReplicaReport[][] = [];
  const manager = new ReplicaManager({
    dataDir,
    selfId: SELF,
    token: "replica-manager-test-token",
    report: (replicas) => reports.push(replicas),
    proposeIsr: () => {},
    scConnected: () => true,
  });
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  cleanups.push(() => manager.closeAll());
  return { manager, dataDir, reports };
}

function led(topic: string, topicId: string): ReplicaAssignmentInfo {
  return { topic, topicId, partition: 0, replicas: [SELF], leader: SELF, leaderEpoch: 1, isr: [SELF] };
}

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
});
