/**
 * Table tests of the lifecycle plans: each verb's pure planner from an observed state to the
 * plan that `applyPlan` runs and `--dry-run` shows; and the dry run itself, which performs the
 * plan's checks and nothing else.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { previewPlan } from "../../lib/cluster/apply.ts";
import { planCreate, type CreateObservation } from "../../lib/commands/create.ts";
import { planDelete, type DeleteObservation } from "../../lib/commands/delete.ts";
import { clusterPaths } from "../../lib/cluster/home.ts";
import { SOURCE_COMMANDS } from "../../lib/cluster/launch.ts";
import { formatPlan, showPlan, type Plan, type ShownAction } from "../../lib/cluster/plan.ts";
import { planResume, type ResumeObservation } from "../../lib/commands/resume.ts";
import { planShutdown, type ShutdownObservation } from "../../lib/commands/shutdown.ts";
import { resolveSpec } from "../../lib/cluster/spec.ts";
import type { ClusterState, ProcessEntry } from "../../lib/cluster/state.ts";
import type { PartitionView } from "../../lib/engine/control-plane/topic-registry.ts";

const paths = clusterPaths("/h", "dev");
const spec = resolveSpec({ spus: 2 }, paths, 19000);

function entry(role: "sc" | "spu", id: number | null, pid: number): ProcessEntry {
  return { role, id, pid, startTime: "1", argv: [], ports: [] };
}
const sc = entry("sc", null, 101);
const spu1 = entry("spu", 5001, 102);
const spu2 = entry("spu", 5002, 103);

/** One line per action as the dry run shows it, short enough for a table. */
function brief(action: ShownAction): string {
  switch (action.action) {
    case "write":
    case "remove":
      return `${action.action} ${action.path.replace("/h/dev/", "")}`;
    case "check-ports":
      return `check-ports ${action.ports.join(" ")}`;
    case "start":
    case "signal":
      return `${action.action} ${action.component}`;
    case "register-spu":
      return `register-spu ${action.spu}`;
    case "confirm-spus":
      return `confirm-spus ${action.spus.join(" ")}`;
    case "confirm-leaders":
      return "confirm-leaders";
    case "write-profile":
    case "remove-profile":
      return `${action.action} ${action.profile} ${action.path}`;
  }
}

function briefly(plan: Plan): string[] {
  return showPlan(plan).actions.map(brief);
}

/** The intents the plan's state writes record, in order. */
function intents(plan: Plan): string[] {
  return plan.actions.flatMap((action) => (action.action === "write-state" ? [action.intent] : []));
}

describe("planCreate()", () => {
  const observed = (claimed: [number, string][] = [], portBase?: number): CreateObservation => ({
    paths,
    spec: { spus: 2, ...(portBase !== undefined && { portBase }) },
    claimedBy: new Map(claimed),
    firstPortBase: 19000,
    profile: { name: "dev", configPath: "/f/config" },
    daemonCommands: SOURCE_COMMANDS,
  });

  test("planCreate() checks every port, saves the spec and token, seeds the SPUs, starts, records and confirms them", () => {
    const plan = planCreate(observed());
    expect(briefly(plan)).toEqual([
      "check-ports 19003 19004 19010 19011 19020 19021",
      "write cluster.yaml",
      "write token",
      "write metadata/SPU/custom-spu-5001.yaml",
      "write metadata/SPU/custom-spu-5002.yaml",
      "write state.yaml",
      "start sc",
      "start spu-5001",
      "start spu-5002",
      "write state.yaml",
      "confirm-spus 5001 5002",
      "write-profile dev /f/config",
      "write state.yaml",
    ]);
    expect(intents(plan)).toEqual(["starting", "starting", "running"]);
    expect(plan.processes).toEqual([]);
  });

  test.each<[string, [number, string][], number | undefined, number]>([
    ["takes the first block when no other cluster claims it", [], undefined, 19000],
    ["takes the next free block when another cluster claims the first", [[19003, "other"]], undefined, 20000],
    ["takes the block asked for", [], 25000, 25000],
  ])("planCreate() %s", (_, claimed, portBase, expected) => {
    expect(planCreate(observed(claimed, portBase)).spec.portBase).toBe(expected);
  });

  test("planCreate() fails with PORT_IN_USE when the block asked for is another cluster's, naming it", () => {
    expect(() => planCreate(observed([[19010, "first"]], 19000))).toThrow("port 19010 belongs to cluster 'first' of this home");
  });
});

describe("planResume()", () => {
  const view = (partition: number, online: boolean): PartitionView => ({
    topic: "t",
    partition,
    leader: 5001,
    replicas: [5001],
    isr: [5001],
    leaderEpoch: 0,
    online,
    leaderless: false,
    electionPending: false,
    endOffset: null,
    highWatermark: null,
    sizeBytes: 0,
  });
  const stored = (ids: number[]): ResumeObservation["registered"] => ({ by: "store", ids });
  const reported = (online: number[], offline: number[] = [], partitions: PartitionView[] = []): ResumeObservation["registered"] => ({
    by: "sc",
    spus: [...online.map((id) => ({ id, online: true })), ...offline.map((id) => ({ id, online: false }))],
    partitions,
  });
  const observed = (running: ProcessEntry[], registered: ResumeObservation["registered"], more: Partial<ResumeObservation> = {}): ResumeObservation => ({
    paths,
    spec,
    running,
    interrupted: false,
    tokenExists: true,
    fluvioConfig: "/f/config",
    daemonCommands: SOURCE_COMMANDS,
    registered,
    ...more,
  });
  const confirmations = ["confirm-spus 5001 5002", "confirm-leaders", "write-profile dev /f/config", "write state.yaml"];
  const startAll = ["check-ports 19003 19004 19010 19011 19020 19021", "start sc", "start spu-5001", "start spu-5002", "write state.yaml"];

  test.each<[string, ResumeObservation, string[]]>([
    ["starts every process of a stopped cluster, then confirms", observed([], stored([5001, 5002])), [...startAll, ...confirmations]],
    [
      "writes a token first for a stopped cluster that has none",
      observed([], stored([5001, 5002]), { tokenExists: false }),
      [startAll[0]!, "write token", ...startAll.slice(1), ...confirmations],
    ],
    [
      "puts back an SPU missing from a stopped SC's store",
      observed([], stored([5001])),
      [startAll[0]!, "write metadata/SPU/custom-spu-5002.yaml", ...startAll.slice(1), ...confirmations],
    ],
    [
      "restarts only the SPU that died",
      observed([sc, spu1], reported([5001], [5002])),
      ["check-ports 19020 19021", "start spu-5002", "write state.yaml", ...confirmations],
    ],
    ["registers with the running SC an SPU it lost", observed([sc, spu1, spu2], reported([5001])), ["register-spu 5002", ...confirmations]],
    ["waits for a partition whose leader is not back", observed([sc, spu1, spu2], reported([5001, 5002], [], [view(0, false)])), confirmations],
    ["does nothing when everything runs and is confirmed", observed([sc, spu1, spu2], reported([5001, 5002], [], [view(0, true)])), []],
    [
      "stops every process a command that died while starting left, the SC first, then starts afresh",
      observed([sc, spu1], stored([5001, 5002]), { interrupted: true }),
      ["signal sc", "signal spu-5001", ...startAll, ...confirmations],
    ],
  ])("planResume() %s", (_, observation, expected) => {
    expect(briefly(planResume(observation))).toEqual(expected);
  });

  test.each<[string, string | undefined, ResumeObservation]>([
    ["a stopped cluster", undefined, observed([], stored([5001, 5002]))],
    ["a running one that needs an SPU registered", "every process is already running", observed([sc, spu1, spu2], reported([5001]))],
    ["a running, confirmed one", "every process is already running", observed([sc, spu1, spu2], reported([5001, 5002]))],
  ])("planResume() of %s: note %p", (_, note, observation) => {
    expect(planResume(observation).note).toBe(note);
  });

  test("planResume() records the processes kept, less those stopped, and the ones it starts", () => {
    const plan = planResume(observed([sc, spu1], stored([5001, 5002]), { interrupted: true }));
    expect(plan.processes).toEqual([sc, spu1]);
    expect(intents(plan)).toEqual(["starting", "running"]);
  });
});

describe("planShutdown()", () => {
  const observed = (recorded: ProcessEntry[], running: ProcessEntry[], intent: ClusterState["intent"] = "running"): ShutdownObservation => ({
    paths,
    state: { intent, updatedAt: "", processes: recorded },
    running,
  });

  test.each<[string, ShutdownObservation, string[], string[], string | undefined]>([
    [
      "stops the live processes the SC first, between two state writes",
      observed([sc, spu1, spu2], [sc, spu1, spu2]),
      ["write state.yaml", "signal sc", "signal spu-5001", "signal spu-5002", "write state.yaml"],
      ["stopping", "stopped"],
      undefined,
    ],
    ["signals only what still runs", observed([sc, spu1, spu2], [sc, spu2]), ["write state.yaml", "signal sc", "signal spu-5002", "write state.yaml"], ["stopping", "stopped"], undefined],
    ["only clears the records of processes that are gone", observed([sc, spu1], []), ["write state.yaml"], ["stopped"], "it is already stopped"],
    ["does nothing to a cluster recorded stopped", observed([], [], "stopped"), [], [], "it is already stopped"],
  ])("planShutdown() %s", (_, observation, expected, expectedIntents, note) => {
    const plan = planShutdown(observation, 10_000);
    expect(briefly(plan)).toEqual(expected);
    expect(intents(plan)).toEqual(expectedIntents);
    expect(plan.note).toBe(note);
  });

  test("planShutdown() gives each stop the grace period asked for", () => {
    const plan = planShutdown(observed([sc], [sc]), 3_000);
    expect(plan.actions.flatMap((action) => (action.action === "stop" ? [action.graceMs] : []))).toEqual([3_000]);
  });
});

describe("planDelete()", () => {
  const observed = (more: Partial<DeleteObservation>): DeleteObservation => ({
    paths,
    exists: true,
    isDirectory: true,
    recorded: [],
    running: [],
    ...more,
  });

  test.each<[string, DeleteObservation, string[], string | undefined]>([
    ["stops what runs, the SC first, then removes the directory", observed({ recorded: [sc, spu1], running: [sc, spu1] }), ["signal sc", "signal spu-5001", "remove /h/dev"], undefined],
    ["removes a stopped cluster", observed({ recorded: [sc, spu1] }), ["remove /h/dev"], undefined],
    [
      "removes the Fluvio profile the cluster wrote, then the directory",
      observed({ profile: { name: "dev", configPath: "/f/config" } }),
      ["remove-profile dev /f/config", "remove /h/dev"],
      undefined,
    ],
    ["removes a cluster whose state cannot be read", observed({ stateProblem: "'state.yaml' is not valid YAML" }), ["remove /h/dev"], undefined],
    ["does nothing when there is no cluster", observed({ exists: false, isDirectory: false }), [], "there is no such cluster"],
    ["removes the directory a create killed before it wrote anything left, holding only a lock", observed({ exists: false }), ["remove /h/dev"], undefined],
  ])("planDelete() %s", (_, observation, expected, note) => {
    const plan = planDelete(observation);
    expect(briefly(plan)).toEqual(expected);
    expect(plan.note).toBe(note);
  });

  test("planDelete() refuses a cluster 'directory' that is a file", () => {
    expect(() => planDelete(observed({ isDirectory: false }))).toThrow("'/h/dev' is not a directory, so it is not a cluster this tool made");
  });
});

describe("showing a plan", () => {
  test("showPlan() gives the dry run's JSON: what each action does, not what only running it needs", () => {
    const shown = showPlan(planShutdown({ paths, state: { intent: "running", updatedAt: "", processes: [sc] }, running: [sc] }, 10_000));
    expect(shown).toEqual({
      dryRun: true,
      verb: "shutdown",
      name: "dev",
      actions: [
        { action: "write", path: "/h/dev/state.yaml" },
        { action: "signal", component: "sc", pid: 101, signal: "SIGTERM" },
        { action: "write", path: "/h/dev/state.yaml" },
      ],
    });
  });

  test("formatPlan() lists each action, or says why there is nothing to do", () => {
    const stopping = showPlan(planShutdown({ paths, state: { intent: "running", updatedAt: "", processes: [sc] }, running: [sc] }, 10_000));
    expect(formatPlan(stopping).split("\n")).toEqual([
      "shutdown of cluster 'dev' would (dry run, nothing done):",
      "  write  /h/dev/state.yaml",
      "  signal sc (pid 101) with SIGTERM, then SIGKILL after the grace period",
      "  write  /h/dev/state.yaml",
    ]);
    const idle = showPlan(planShutdown({ paths, state: { intent: "stopped", updatedAt: "", processes: [] }, running: [] }, 10_000));
    expect(formatPlan(idle)).toBe("shutdown of cluster 'dev' would do nothing: it is already stopped");
  });
});

describe("previewPlan()", () => {
  function tempPaths() {
    const home = mkdtempSync(join(tmpdir(), "cluster-plan-"));
    return { home, paths: clusterPaths(home, "dev") };
  }

  test("previewPlan() performs the plan's checks and none of its changes", async () => {
    const { home, paths } = tempPaths();
    try {
      const plan = planCreate({ paths, spec: { spus: 1 }, claimedBy: new Map(), firstPortBase: 29000, profile: { name: "local", configPath: join(home, ".fluvio", "config") }, daemonCommands: SOURCE_COMMANDS });
      const shown = await previewPlan(plan, paths);
      expect(shown.actions.slice(0, 3)).toEqual([
        { action: "check-ports", host: "127.0.0.1", ports: [29003, 29004, 29010, 29011] },
        { action: "write", path: paths.spec },
        { action: "write", path: paths.token },
      ]);
      expect(existsSync(paths.dir)).toBe(false);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  test("previewPlan() fails with PORT_IN_USE where the real run would fail first", async () => {
    const { home, paths } = tempPaths();
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(29103, "127.0.0.1", resolve));
    try {
      const plan = planCreate({ paths, spec: { spus: 1 }, claimedBy: new Map(), firstPortBase: 29100, profile: { name: "local", configPath: join(home, ".fluvio", "config") }, daemonCommands: SOURCE_COMMANDS });
      await expect(previewPlan(plan, paths)).rejects.toThrow("127.0.0.1:29103 (sc) already in use");
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
      rmSync(home, { recursive: true, force: true });
    }
  });
});
