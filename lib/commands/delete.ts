/**
 * `cluster delete`: stops whatever of the cluster still runs and removes its whole directory
 * (spec, metadata, data, logs). It works from any phase, including a half-created or
 * hand-broken cluster, and is idempotent.
 */
import type { Argv } from "yargs";
import { ClusterError } from "../base/errors.ts";
import { readFluvioProfileRecord } from "../cluster/fluvio-profile.ts";
import { clusterExists, type ClusterPaths } from "../cluster/home.ts";
import { isDirectory } from "../base/files.ts";
import { applyPlan, previewPlan } from "../cluster/apply.ts";
import { liveEntries, stopOrder } from "../cluster/launch.ts";
import { locateCluster } from "../cluster/locate.ts";
import { acquireLock } from "../base/lock.ts";
import { clusterOptions, formatSeconds, lifecycleHandler, lifecycleOptions } from "../terminal/output.ts";
import { stoppedEntries, type Plan, type ShownPlan } from "../cluster/plan.ts";
import { readState, type ProcessEntry } from "../cluster/state.ts";

export interface DeleteOptions {
  home?: string;
  name?: string;
}

export interface DeleteResult {
  name: string;
  phase: "absent";
  /** False when there was nothing to delete. */
  deleted: boolean;
  stopped: number[];
  /** Why some processes could not be looked for (a broken state file). */
  warnings: string[];
  elapsedMs: number;
}

const DELETE_GRACE_MS = 5_000;

/** What `delete` acts on: whether the cluster is there, and which of its recorded processes still run. */
export interface DeleteObservation {
  paths: ClusterPaths;
  exists: boolean;
  isDirectory: boolean;
  recorded: ProcessEntry[];
  running: ProcessEntry[];
  /** Why the recorded processes could not be read (a broken state file). */
  stateProblem?: string;
  /** The Fluvio profile this cluster wrote, if it wrote one. */
  profile?: { name: string; configPath: string };
}

export function observeDelete(paths: ClusterPaths): DeleteObservation {
  const observed: DeleteObservation = { paths, exists: clusterExists(paths), isDirectory: isDirectory(paths.dir), recorded: [], running: [] };
  if (!observed.exists || !observed.isDirectory) return observed;
  try {
    observed.recorded = readState(paths).processes;
  } catch (error) {
    if (!(error instanceof ClusterError)) throw error;
    observed.stateProblem = `${error.message}; processes it recorded could not be stopped`;
  }
  observed.running = liveEntries(observed.recorded);
  try {
    const record = readFluvioProfileRecord(paths);
    if (record) observed.profile = { name: record.name, configPath: record.configPath };
  } catch {
    // A record that cannot be read names nothing to remove: the cluster goes all the same.
  }
  return observed;
}

/**
 * The plan of `delete`: stop the live recorded processes (the SC first), then remove the whole
 * directory. It refuses a cluster "directory" that is something else: a file a person put in
 * the home is theirs to remove, not this command's.
 */
export function planDelete(observed: DeleteObservation): Plan {
  const { paths } = observed;
  const plan = { verb: "delete" as const, name: paths.name, processes: observed.recorded };
  // A directory holding only a lock is what a create killed before it wrote anything leaves.
  if (!observed.exists && observed.isDirectory) return { ...plan, actions: [{ action: "remove", path: paths.dir }] };
  if (!observed.exists) return { ...plan, note: "there is no such cluster", actions: [] };
  if (!observed.isDirectory) {
    throw new ClusterError("STATE_CORRUPT", `'${paths.dir}' is not a directory, so it is not a cluster this tool made`, {
      hint: "look at it and remove it by hand if it is not needed",
    });
  }
  return {
    ...plan,
    actions: [
      ...stopOrder(observed.running).map((entry) => ({ action: "stop" as const, entry, graceMs: DELETE_GRACE_MS })),
      ...(observed.profile ? [{ action: "remove-profile" as const, path: observed.profile.configPath, name: observed.profile.name }] : []),
      { action: "remove", path: paths.dir },
    ],
  };
}

export async function deleteCluster(options: DeleteOptions): Promise<DeleteResult> {
  const started = performance.now();
  const paths = locateCluster(options);
  const result: DeleteResult = { name: paths.name, phase: "absent", deleted: false, stopped: [], warnings: [], elapsedMs: 0 };
  // The lock lives in the cluster's directory: that there is none to delete (or that it is
  // not a directory) is known without it; what to stop is decided again under it.
  if (planDelete(observeDelete(paths)).actions.length === 0) return { ...result, elapsedMs: Math.round(performance.now() - started) };
  const lock = acquireLock(paths.lock, { verb: "delete", subject: `cluster '${paths.name}'` });
  try {
    const observed = observeDelete(paths);
    const plan = planDelete(observed);
    await applyPlan(plan, { paths, timeoutMs: 0 });
    return {
      ...result,
      deleted: plan.actions.some((action) => action.action === "remove"),
      stopped: stoppedEntries(plan).map((entry) => entry.pid),
      warnings: [
        ...(observed.stateProblem ? [observed.stateProblem] : []),
        ...(observed.exists ? [] : [`'${paths.dir}' held only a lock: a create cut short before it wrote anything`]),
      ],
      elapsedMs: Math.round(performance.now() - started),
    };
  } finally {
    lock.release();
  }
}

/** What `delete` would do: signal the live recorded processes, then remove the directory. */
export function previewDelete(options: DeleteOptions): Promise<ShownPlan> {
  const paths = locateCluster(options);
  return previewPlan(planDelete(observeDelete(paths)), paths);
}

export function formatDeleteResult(result: DeleteResult): string {
  if (!result.deleted) return `no cluster '${result.name}'; nothing to delete`;
  const stopped = result.stopped.length > 0 ? `stopped ${result.stopped.length} process(es), ` : "";
  return [
    `cluster '${result.name}' is deleted: ${stopped}removed its spec, metadata, data and logs (${formatSeconds(result.elapsedMs)})`,
    ...result.warnings.map((warning) => `warning: ${warning}`),
  ].join("\n");
}

export const deleteCommand = {
  command: "delete",
  describe: "Stop a cluster and remove it completely: spec, metadata, data and logs",
  builder: (yargs: Argv) =>
    clusterOptions(yargs)
      .option("dry-run", { type: "boolean", describe: "Print the pids that would be signalled and what would be removed, and do nothing" })
      .example("$0 delete --name dev", "remove cluster 'dev' and all its data"),
  handler: lifecycleHandler({ options: lifecycleOptions, preview: previewDelete, run: deleteCluster, format: formatDeleteResult }),
};
