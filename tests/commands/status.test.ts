import { describe, expect, test } from "bun:test";
import { clusterPaths } from "../../lib/cluster/home.ts";
import { missingComponents, planComponents, SOURCE_COMMANDS } from "../../lib/cluster/launch.ts";
import { resolveSpec } from "../../lib/cluster/spec.ts";
import { derivePhase, type Phase } from "../../lib/commands/status.ts";
import type { ProcessEntry } from "../../lib/cluster/state.ts";

describe("derivePhase()", () => {
  test.each<[Parameters<typeof derivePhase>[0], Phase]>([
    [{ exists: false, processCount: 0, aliveCount: 0, spusConfirmed: false, problems: 0 }, "absent"],
    [{ exists: true, processCount: 4, aliveCount: 0, spusConfirmed: false, problems: 0 }, "stopped"],
    [{ exists: true, processCount: 4, aliveCount: 4, spusConfirmed: true, problems: 0 }, "running"],
    [{ exists: true, processCount: 4, aliveCount: 3, spusConfirmed: false, problems: 0 }, "degraded"],
    [{ exists: true, processCount: 4, aliveCount: 1, spusConfirmed: false, problems: 0 }, "degraded"],
    // Every process alive but the SC does not see the expected set: not running.
    [{ exists: true, processCount: 4, aliveCount: 4, spusConfirmed: false, problems: 0 }, "degraded"],
    [{ exists: true, processCount: 4, aliveCount: 4, spusConfirmed: true, problems: 1 }, "degraded"],
    [{ exists: true, processCount: 0, aliveCount: 0, spusConfirmed: false, problems: 1 }, "degraded"],
    // One process suspended (SIGSTOP): alive, so not stopped, but not serving, even while the SC still counts it online.
    [{ exists: true, processCount: 4, aliveCount: 4, runningCount: 3, spusConfirmed: true, problems: 0 }, "degraded"],
    [{ exists: true, processCount: 4, aliveCount: 1, runningCount: 0, spusConfirmed: false, problems: 0 }, "degraded"],
  ])("derivePhase(%j) is %p", (observed, phase) => {
    expect(derivePhase(observed)).toBe(phase);
  });
});

describe("missingComponents()", () => {
  const paths = clusterPaths("/h", "dev");
  const components = planComponents(resolveSpec({ spus: 3 }, paths, 19000), paths);
  const entry = (role: "sc" | "spu", id: number | null, pid: number): ProcessEntry => ({ role, id, pid, startTime: "1", argv: [], ports: [] });
  const names = (list: { name: string }[]) => list.map((component) => component.name);

  test.each([
    ["nothing recorded", [], [], ["sc", "spu-5001", "spu-5002", "spu-5003"]],
    ["everything alive", [entry("sc", null, 1), entry("spu", 5001, 2), entry("spu", 5002, 3), entry("spu", 5003, 4)], [1, 2, 3, 4], []],
    ["one SPU dead", [entry("sc", null, 1), entry("spu", 5001, 2), entry("spu", 5002, 3), entry("spu", 5003, 4)], [1, 2, 4], ["spu-5002"]],
    ["the SC dead", [entry("sc", null, 1), entry("spu", 5001, 2), entry("spu", 5002, 3), entry("spu", 5003, 4)], [2, 3, 4], ["sc"]],
    ["one SPU never recorded", [entry("sc", null, 1), entry("spu", 5001, 2), entry("spu", 5003, 4)], [1, 2, 4], ["spu-5002"]],
  ])("missingComponents() with %s", (_, entries, alivePids, missing) => {
    const alive = new Set(alivePids);
    expect(names(missingComponents(components, entries, (candidate) => alive.has(candidate.pid)))).toEqual(missing);
  });

  test("planComponents() gives each SPU its ports, data directory, log file and the token file's path", () => {
    const spu = components.find((component) => component.name === "spu-5002")!;
    expect(spu.ports).toEqual([19020, 19021]);
    expect(spu.argv.slice(SOURCE_COMMANDS.spu.length)).toEqual([
      "--await-record",
      "--token-file", "/h/dev/token",
      "--id", "5002", "--public", "127.0.0.1:19020", "--private", "127.0.0.1:19021", "--sc", "127.0.0.1:19004", "--data", "/h/dev/data/spu-5002",
    ]);
    expect(spu.logFile).toBe("/h/dev/logs/spu-5002.log");
  });
});
