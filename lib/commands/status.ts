/**
 * `cluster status`: what runs, observed (live pids checked against their start times, the SPU
 * sets as the SC reports them), never assumed from what was written, and never changed.
 * Exit codes follow the LSB convention pg_ctl uses: 0 running, 1 degraded, 3 stopped, 4 absent.
 */
import type { Argv } from "yargs";
import { adminTarget, listPartitions, listSpus, listTopics, type AdminTarget, type PartitionView, type TopicView } from "../fluvio/admin.ts";
import { compareSpuSets, formatIds, type SpuSets } from "../cluster/confirm-spus.ts";
import { askFigures, type PublicPortFigures } from "../cluster/daemon-figures.ts";
import { currentRunMode, runsFromCache } from "../startup/run-mode.ts";
import { asStateCorrupt, ClusterError } from "../base/errors.ts";
import { clusterExists, type ClusterPaths } from "../cluster/home.ts";
import { locateCluster } from "../cluster/locate.ts";
import { componentName, findEntry, planComponents } from "../cluster/launch.ts";
import { processState, type ProcessRecord } from "../base/procs.ts";
import { expectedSpuIds, scEndpoint, type ResolvedSpec } from "../cluster/spec.ts";
import { readSavedSpec, readState, type ClusterState, type Role } from "../cluster/state.ts";
import { readStoredTopics, storedSpuIds, type TopicObject } from "../engine/control-plane/mod.ts";
import { describeSettings } from "./topic.ts";
import { clusterOptions, printResult, type CommonArgs } from "../terminal/output.ts";
import { readToken } from "../cluster/token.ts";

export type Phase = "running" | "degraded" | "stopped" | "absent";

/**
 * A process as `status` shows it: `running`; `suspended` (stopped by SIGSTOP or the like: it
 * exists and holds its ports, but serves nothing until SIGCONT); `zombie` (it exited, and its
 * parent has not reaped it); `stopped` (not running: exited, never started, or its pid is
 * another process's now).
 */
export type ProcessStateName = "running" | "suspended" | "zombie" | "stopped";

export interface ProcessStatus {
  role: Role;
  id: number | null;
  name: string;
  pid: number | null;
  /** The recorded process exists and has not exited (`running` or `suspended`): it must be stopped before it can be started again. */
  alive: boolean;
  state: ProcessStateName;
  ports: number[];
  /** What its recorded argv runs: the bytecode cache's bundle or its source (null: no record). */
  runs: "compiled" | "sources" | null;
  /** What its public port holds and has closed, as the daemon tells it; null when not asked for, or it is not running or did not answer. */
  publicPort: PublicPortFigures | null;
}

export interface ClusterStatus {
  name: string;
  phase: Phase;
  endpoint: string | null;
  portBase: number | null;
  spus: { expected: number[]; registered: number[]; online: number[] };
  /** How the SC's SPUs differ from the saved spec. */
  drift: { unregistered: number[]; extra: number[]; offline: number[] };
  processes: ProcessStatus[];
  /** The topics apart from the system ones, with their settings (null where unset: the default). */
  topics: TopicView[];
  /** Each partition's leader, leader epoch, replicas, in-sync set and (from a live leader) end offset and high watermark. */
  partitions: (PartitionView & { leaderEpoch: number | null })[];
  /** Broken files and unanswered calls found while looking. */
  problems: string[];
  /** How this command ran: from the bytecode cache (lib/startup/bytecode-cache.ts) or from the sources, and why. */
  runMode: { mode: "compiled" | "sources"; reason: string };
}

/**
 * The phase from what was observed: every process running and the SPU set confirmed is
 * running; none alive is stopped. A suspended process (SIGSTOP) is alive but serves nothing,
 * so a cluster with one is degraded, at once, before the SC notices its silence.
 */
export function derivePhase(observed: {
  exists: boolean;
  processCount: number;
  aliveCount: number;
  /** Alive and not suspended; all of them when absent. */
  runningCount?: number;
  spusConfirmed: boolean;
  problems: number;
}): Phase {
  if (!observed.exists) return "absent";
  if (observed.aliveCount === 0 && observed.problems === 0) return "stopped";
  const running = observed.runningCount ?? observed.aliveCount;
  if (running < observed.processCount || !observed.spusConfirmed || observed.problems > 0) return "degraded";
  return "running";
}

/** Exit code of `status` for each phase. */
export const STATUS_EXIT_CODES: Record<Phase, number> = { running: 0, degraded: 1, stopped: 3, absent: 4 };

/** What an observation asks the daemons besides the SC's sets. */
export interface ObserveOptions {
  /** Each running daemon's public port figures, one private-port request each (only `--json` and diagnostics print them). */
  figures?: boolean;
}

/** Observes the cluster at `options.home`/`options.name` without changing anything. */
export async function getClusterStatus(options: { home?: string; name?: string } & ObserveOptions): Promise<ClusterStatus> {
  return observeCluster(locateCluster(options), options);
}

export async function observeCluster(paths: ClusterPaths, options: ObserveOptions = {}): Promise<ClusterStatus> {
  const { mode, reason } = currentRunMode();
  const status: ClusterStatus = {
    name: paths.name,
    phase: "absent",
    endpoint: null,
    portBase: null,
    spus: { expected: [], registered: [], online: [] },
    drift: { unregistered: [], extra: [], offline: [] },
    processes: [],
    topics: [],
    partitions: [],
    problems: [],
    runMode: { mode, reason },
  };
  if (!clusterExists(paths)) return status;

  const spec = attempt(() => readSavedSpec(paths), status.problems);
  const state = attempt(() => readState(paths), status.problems) ?? ({ intent: "stopped", updatedAt: "", processes: [] } as ClusterState);
  if (spec === undefined && status.problems.length === 0) {
    status.problems.push(`'${paths.spec}' is missing: the cluster was not completely created`);
  }
  status.processes = describeProcesses(spec, paths, state);
  const aliveCount = status.processes.filter((process) => process.alive).length;
  const runningCount = status.processes.filter((process) => process.state === "running").length;

  let sets: SpuSets | undefined;
  if (spec) {
    status.endpoint = scEndpoint(spec);
    status.portBase = spec.portBase;
    // Only a live SC is asked. While anything runs, the token must be there: no part that stops
    // could be started again without it.
    const scAlive = status.processes.find((process) => process.role === "sc")?.alive ?? false;
    const admin = scAlive ? adminTarget(spec) : undefined;
    const token = aliveCount > 0 ? attempt(() => readToken(paths), status.problems) : undefined;
    // Asked at once, on one connection; their problems are told in this order all the same.
    const spuProblems: string[] = [];
    const topicProblems: string[] = [];
    [sets] = await Promise.all([
      observeSpuSets(spec, spuProblems, admin),
      observeTopics(spec, status, topicProblems, admin),
      token === undefined || !options.figures ? undefined : observeFigures(spec, status.processes, token),
    ]);
    status.problems.push(...spuProblems, ...topicProblems);
    status.spus = { expected: sets.expected, registered: sets.registered, online: sets.online };
    status.drift = { unregistered: sets.unregistered, extra: sets.extra, offline: sets.offline };
  }
  status.phase = derivePhase({
    exists: true,
    processCount: status.processes.length,
    aliveCount,
    runningCount,
    spusConfirmed: sets?.confirmed ?? false,
    problems: status.problems.length,
  });
  return status;
}

function attempt<T>(read: () => T, problems: string[]): T | undefined {
  try {
    return asStateCorrupt(read);
  } catch (error) {
    if (!(error instanceof ClusterError)) throw error;
    problems.push(error.message);
    return undefined;
  }
}

function describeProcesses(spec: ResolvedSpec | undefined, paths: ClusterPaths, state: ClusterState): ProcessStatus[] {
  if (!spec) {
    return state.processes.map((entry) => ({
      role: entry.role,
      id: entry.id,
      name: componentName(entry),
      pid: entry.pid,
      ...observeProcess(entry),
      ports: entry.ports ?? [],
      runs: runsOf(entry),
      publicPort: null,
    }));
  }
  return planComponents(spec, paths).map((component) => {
    const entry = findEntry(state.processes, component);
    return {
      role: component.role,
      id: component.id,
      name: component.name,
      pid: entry?.pid ?? null,
      ...observeProcess(entry),
      ports: component.ports,
      runs: runsOf(entry),
      publicPort: null,
    };
  });
}

function runsOf(entry: ProcessRecord | undefined): ProcessStatus["runs"] {
  if (!entry) return null;
  return runsFromCache(entry.argv) ? "compiled" : "sources";
}

/**
 * Each running daemon's public port figures, asked of it on its private port. One that does
 * not answer keeps null: a figure missing is no problem of the cluster's (a daemon of an older
 * version has none to give).
 */
async function observeFigures(spec: ResolvedSpec, processes: ProcessStatus[], token: string): Promise<void> {
  await Promise.all(
    processes.map(async (process) => {
      if (process.state !== "running") return;
      const port = process.role === "sc" ? spec.sc.privatePort : spec.spus.find((spu) => spu.id === process.id)?.privatePort;
      if (port !== undefined) process.publicPort = await askFigures({ host: spec.host, port }, token);
    }),
  );
}

/** `alive` and `state` from one look at the process of `record` (none recorded: stopped). */
function observeProcess(record: ProcessRecord | undefined): { alive: boolean; state: ProcessStateName } {
  const state = record ? processState(record) : "gone";
  return { alive: state === "running" || state === "suspended", state: state === "gone" ? "stopped" : state };
}

/** The SC's SPU sets when it runs (`admin` given); otherwise the registered set from its store, none online. */
async function observeSpuSets(spec: ResolvedSpec, problems: string[], admin: AdminTarget | undefined): Promise<SpuSets> {
  const expected = expectedSpuIds(spec);
  if (admin) {
    try {
      return compareSpuSets(expected, await listSpus(admin));
    } catch (error) {
      if (!(error instanceof ClusterError)) throw error;
      problems.push(error.message);
    }
  }
  const stored = attempt(() => storedSpuIds(spec.metadataDir), problems) ?? [];
  return compareSpuSets(
    expected,
    stored.map((id) => ({ id, online: false })),
  );
}

/**
 * Topics and partitions from the SC when it runs (`admin` given); otherwise from its store,
 * every leader offline. Leader epochs come from the store either way: Fluvio's partition
 * objects carry none, and the SC writes each new epoch there before anyone hears of it.
 */
async function observeTopics(spec: ResolvedSpec, status: ClusterStatus, problems: string[], admin: AdminTarget | undefined): Promise<void> {
  const stored = attempt(() => readStoredTopics(spec.metadataDir), problems) ?? { topics: [], partitions: [] };
  const epochOf = (view: PartitionView) =>
    stored.partitions.find((partition) => partition.topic === view.topic && partition.partition === view.partition)?.leaderEpoch ?? null;
  let topics: TopicView[] | undefined;
  let partitions: PartitionView[] | undefined;
  if (admin) {
    try {
      [topics, partitions] = await Promise.all([listTopics(admin), listPartitions(admin)]);
    } catch (error) {
      if (!(error instanceof ClusterError)) throw error;
      problems.push(error.message);
    }
  }
  if (!topics || !partitions) {
    const listed = stored.topics.filter((topic) => !topic.spec.system);
    topics = listed.map(storedTopicView);
    partitions = stored.partitions.filter((view) => listed.some((topic) => topic.name === view.topic)).map(({ leaderEpoch: _epoch, ...view }) => view);
  }
  status.topics = topics;
  status.partitions = partitions.map((view) => ({ ...view, leaderEpoch: epochOf(view) }));
}

/** A stored topic as the SC would list it. */
function storedTopicView(topic: TopicObject): TopicView {
  const { spec } = topic;
  return {
    name: topic.name,
    partitions: spec.partitions,
    replication: spec.replicationFactor,
    retentionSeconds: spec.retentionSeconds ?? null,
    segmentSize: spec.segmentSize ?? null,
    maxPartitionSize: spec.maxPartitionSize ?? null,
    compressionType: (spec.compressionType ?? "Any").toLowerCase(),
    system: spec.system ?? false,
  };
}

/** One line per partition: leader, replicas, in-sync set, and the end offset consumers reach (the high watermark). */
export function formatPartitions(partitions: PartitionView[]): string[] {
  const rows = partitions.map((partition) => [
    `${partition.topic}-${partition.partition}`,
    formatLeader(partition),
    partition.replicas.join(","),
    partition.isr.join(","),
    partition.highWatermark === null ? "-" : String(partition.highWatermark),
  ]);
  const header = ["PARTITION", "LEADER", "REPLICAS", "IN-SYNC", "END"];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  return [header, ...rows].map((row) => `  ${row.map((cell, column) => cell.padEnd(widths[column]!)).join("  ").trimEnd()}`);
}

/** A partition's leader as `status` shows it: its id, or why no replica serves the partition now. */
export function formatLeader(partition: PartitionView): string {
  if (partition.online) return String(partition.leader);
  if (partition.leaderless) return `none (${partition.leader} offline, no in-sync replica to elect)`;
  if (partition.electionPending) return `${partition.leader} (offline, election pending)`;
  // Reporting, but not readable yet: until its followers fetch, a new leader's high watermark may trail what was acknowledged.
  if (partition.highWatermark !== null) return `${partition.leader} (high watermark catching up)`;
  return `${partition.leader} (offline)`;
}

/** The human-readable status: a headline, one line per process, the SPU sets and any drift. */
export function formatStatus(status: ClusterStatus): string {
  if (status.phase === "absent") return `cluster '${status.name}' does not exist`;
  const admin = status.endpoint && status.phase !== "stopped" ? ` (SC ${status.endpoint})` : "";
  const lines = [`cluster '${status.name}' is ${status.phase}${admin}`];
  const nameWidth = Math.max(9, ...status.processes.map((process) => process.name.length));
  const stateWidth = Math.max(7, ...status.processes.map((process) => process.state.length));
  lines.push(`  ${"COMPONENT".padEnd(nameWidth)}  ${"PID".padEnd(8)}  ${"STATE".padEnd(stateWidth)}  PORTS`);
  for (const process of status.processes) {
    lines.push(
      `  ${process.name.padEnd(nameWidth)}  ${String(process.pid ?? "-").padEnd(8)}  ${process.state.padEnd(stateWidth)}  ${process.ports.join(" ")}`,
    );
  }
  const ids = (list: number[]) => (list.length > 0 ? list.join(" ") : "none");
  lines.push(
    `  SPUs expected: ${ids(status.spus.expected)}; registered: ${ids(status.spus.registered)}; online: ${ids(status.spus.online)}`,
  );
  if (status.drift.extra.length > 0) {
    lines.push(`  drift: SPU ${formatIds(status.drift.extra)} registered but not in the spec`);
  }
  if (status.drift.unregistered.length > 0) {
    lines.push(`  drift: SPU ${formatIds(status.drift.unregistered)} in the spec but not registered`);
  }
  if (status.partitions.length > 0) {
    lines.push(`  topics: ${status.topics.map((topic) => `'${topic.name}'`).join(", ")}`);
    for (const topic of status.topics) {
      const [retention, segment, maxPartition, compression] = describeSettings(topic);
      lines.push(`    '${topic.name}': retention ${retention}, segments ${segment}, max partition ${maxPartition}, compression ${compression}`);
    }
    lines.push(...formatPartitions(status.partitions));
  } else if (status.topics.length === 0) {
    lines.push("  topics: none");
  }
  for (const problem of status.problems) lines.push(`  problem: ${problem}`);
  if (status.phase === "degraded") {
    const down = status.processes.filter((process) => !process.alive).map((process) => process.name);
    if (down.length > 0) lines.push(`  not running: ${down.join(", ")}; 'cluster resume --name ${status.name}' restarts them`);
    const suspended = status.processes.filter((process) => process.state === "suspended");
    if (suspended.length > 0) {
      lines.push(
        `  suspended (by SIGSTOP or the like, serving nothing): ${suspended.map((process) => process.name).join(", ")}; ` +
          `'kill -CONT ${suspended.map((process) => process.pid).join(" ")}' lets them go on, 'cluster shutdown --name ${status.name}' stops them`,
      );
    }
  }
  return lines.join("\n");
}

export const statusCommand = {
  command: "status",
  describe: "Show the phase, processes and SPU sets of a cluster (exit 0 running, 1 degraded, 3 stopped, 4 absent)",
  builder: (yargs: Argv) => clusterOptions(yargs).example("$0 status --json", "the status as one JSON document"),
  handler: async (argv: CommonArgs): Promise<number> => {
    // The text shows no figures: asking the four daemons for them took a `status` 1.4 ms.
    const status = await getClusterStatus({ home: argv.home, name: argv.name, figures: argv.json });
    printResult(argv, status, formatStatus);
    return STATUS_EXIT_CODES[status.phase];
  },
};
