/**
 * `cluster shutdown`: stops the recorded processes (SIGTERM, then SIGKILL after the grace
 * period) and keeps everything else: spec, metadata, data and logs. Idempotent.
 */
import type { Argv } from "yargs";
import { applyPlan, previewPlan } from "../cluster/apply.ts";
import type { ClusterPaths } from "../cluster/home.ts";
import { liveEntries, stopOrder } from "../cluster/launch.ts";
import { acquireLock } from "../base/lock.ts";
import { clusterOptions, formatSeconds, lifecycleHandler, lifecycleOptions, timeoutOption } from "../terminal/output.ts";
import { stoppedEntries, type Plan, type ShownPlan } from "../cluster/plan.ts";
import { locateCluster } from "../cluster/locate.ts";
import { readState, type ClusterState, type ProcessEntry } from "../cluster/state.ts";

export interface ShutdownOptions {
  home?: string;
  name?: string;
  /** Seconds between SIGTERM and SIGKILL. */
  timeoutSeconds?: number;
  onProgress?: (text: string) => void;
}

export interface ShutdownResult {
  name: string;
  phase: "stopped";
  alreadyStopped: boolean;
  /** Pids that were running and are now gone. */
  stopped: number[];
  /** Pids that ignored SIGTERM for the whole grace period. */
  killed: number[];
  elapsedMs: number;
}

const DEFAULT_GRACE_SECONDS = 10;

/** What `shutdown` acts on: the recorded processes, and those of them that still run. */
export interface ShutdownObservation {
  paths: ClusterPaths;
  state: ClusterState;
  running: ProcessEntry[];
}

export function observeShutdown(paths: ClusterPaths): ShutdownObservation {
  const state = readState(paths);
  return { paths, state, running: liveEntries(state.processes) };
}

/**
 * The plan of `shutdown`: record that it is stopping, stop the live processes (the SC first,
 * so no leader is elected while the SPUs stop; SIGKILL after `graceMs`), record the cluster
 * stopped. With nothing running it only clears records of processes that are gone.
 */
export function planShutdown(observed: ShutdownObservation, graceMs: number): Plan {
  const { paths, state } = observed;
  const running = stopOrder(observed.running);
  const plan = { verb: "shutdown" as const, name: paths.name, processes: state.processes };
  if (running.length === 0) {
    const recordsStopped = state.intent === "stopped" && state.processes.length === 0;
    return {
      ...plan,
      note: "it is already stopped",
      actions: recordsStopped ? [] : [{ action: "write-state", path: paths.state, intent: "stopped" }],
    };
  }
  return {
    ...plan,
    actions: [
      { action: "write-state", path: paths.state, intent: "stopping", progress: `stopping ${running.length} process(es) of cluster '${paths.name}'` },
      ...running.map((entry) => ({ action: "stop" as const, entry, graceMs })),
      { action: "write-state", path: paths.state, intent: "stopped" },
    ],
  };
}

export async function shutdownCluster(options: ShutdownOptions): Promise<ShutdownResult> {
  const started = performance.now();
  const paths = locateCluster(options, "exist");
  const lock = acquireLock(paths.lock, { verb: "shutdown", subject: `cluster '${paths.name}'` });
  try {
    const plan = planShutdown(observeShutdown(paths), graceMsOf(options));
    const { killed } = await applyPlan(plan, { paths, timeoutMs: 0, onProgress: options.onProgress });
    const stopped = stoppedEntries(plan);
    return {
      name: paths.name,
      phase: "stopped",
      alreadyStopped: stopped.length === 0,
      stopped: stopped.map((entry) => entry.pid),
      killed: killed.map((entry) => entry.pid),
      elapsedMs: Math.round(performance.now() - started),
    };
  } finally {
    lock.release();
  }
}

/** What `shutdown` would do: the live recorded processes it would signal, the SC first. */
export function previewShutdown(options: ShutdownOptions): Promise<ShownPlan> {
  const paths = locateCluster(options, "exist");
  return previewPlan(planShutdown(observeShutdown(paths), graceMsOf(options)), paths);
}

function graceMsOf(options: ShutdownOptions): number {
  return (options.timeoutSeconds ?? DEFAULT_GRACE_SECONDS) * 1000;
}

export function formatShutdownResult(result: ShutdownResult): string {
  if (result.alreadyStopped) return `cluster '${result.name}' is already stopped`;
  const killed = result.killed.length > 0 ? `; killed ${result.killed.join(", ")} after the grace period` : "";
  return `cluster '${result.name}' is stopped: ${result.stopped.length} process(es) ended${killed}; data kept (${formatSeconds(result.elapsedMs)})`;
}

export const shutdownCommand = {
  command: "shutdown",
  describe: "Stop a cluster's processes, keeping its spec, metadata, data and logs",
  builder: (yargs: Argv) =>
    timeoutOption(clusterOptions(yargs), "Grace period in seconds between SIGTERM and SIGKILL", DEFAULT_GRACE_SECONDS)
      .option("dry-run", { type: "boolean", describe: "Print the pids that would be signalled and do nothing" })
      .example("$0 shutdown --name dev", "stop cluster 'dev'; 'cluster resume --name dev' brings it back"),
  handler: lifecycleHandler({ options: lifecycleOptions, preview: previewShutdown, run: shutdownCluster, format: formatShutdownResult }),
};
