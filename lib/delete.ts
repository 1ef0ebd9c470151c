/**
 * `cluster delete`: stops whatever of the cluster still runs and removes its whole directory
 * (spec, metadata, data, logs). It works from any phase, including a half-created or
 * hand-broken cluster, and is idempotent.
 */
import type { Argv } from "yargs";
import { ClusterError } from "./errors.ts";
import { clusterExists, isDirectory, removeClusterDir, type ClusterPaths } from "./home.ts";
import { componentName, liveEntries, stopEntries, stopOrder } from "./launch.ts";
import { locateCluster } from "./locate.ts";
import { acquireLock } from "./lock.ts";
import { clusterOptions, formatSeconds, printResult, type CommonArgs } from "./output.ts";
import { formatPlan, type Plan } from "./plan.ts";
import { readState, type ProcessEntry } from "./state.ts";

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

/**
 * Refuses a cluster "directory" that is something else: a file a person put in the home is
 * theirs to remove, not this command's.
 */
function ensureDirectory(paths: ClusterPaths): void {
  if (isDirectory(paths.dir)) return;
  throw new ClusterError("STATE_CORRUPT", `'${paths.dir}' is not a directory, so it is not a cluster this tool made`, {
    hint: "look at it and remove it by hand if it is not needed",
  });
}

/** What `delete` would do: signal the live recorded processes, then remove the directory. */
export function planDelete(options: DeleteOptions): Plan {
  const paths = locateCluster(options);
  const plan: Plan = { dryRun: true, verb: "delete", name: paths.name, actions: [] };
  if (!clusterExists(paths)) return { ...plan, note: "there is no such cluster" };
  ensureDirectory(paths);
  let running: ProcessEntry[] = [];
  try {
    running = stopOrder(liveEntries(readState(paths).processes));
  } catch (error) {
    if (!(error instanceof ClusterError)) throw error;
  }
  return {
    ...plan,
    actions: [
      ...running.map((entry) => ({ action: "signal" as const, component: componentName(entry), pid: entry.pid, signal: "SIGTERM" as const })),
      { action: "remove", path: paths.dir },
    ],
  };
}

export async function deleteCluster(options: DeleteOptions): Promise<DeleteResult> {
  const started = performance.now();
  const paths = locateCluster(options);
  const result: DeleteResult = { name: paths.name, phase: "absent", deleted: false, stopped: [], warnings: [], elapsedMs: 0 };
  if (!clusterExists(paths)) return { ...result, elapsedMs: Math.round(performance.now() - started) };
  ensureDirectory(paths);

  const lock = acquireLock(paths.lock, { verb: "delete", subject: `cluster '${paths.name}'` });
  try {
    let recorded: ProcessEntry[] = [];
    try {
      recorded = readState(paths).processes;
    } catch (error) {
      if (!(error instanceof ClusterError)) throw error;
      result.warnings.push(`${error.message}; processes it recorded could not be stopped`);
    }
    const running = liveEntries(recorded);
    await stopEntries(running, { graceMs: DELETE_GRACE_MS, clusterName: paths.name });
    removeClusterDir(paths);
    return {
      ...result,
      deleted: true,
      stopped: running.map((entry) => entry.pid),
      elapsedMs: Math.round(performance.now() - started),
    };
  } finally {
    lock.release();
  }
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
  handler: async (argv: CommonArgs & { dryRun?: boolean }): Promise<number> => {
    if (argv.dryRun) printResult(argv, planDelete(argv), formatPlan);
    else printResult(argv, await deleteCluster(argv), formatDeleteResult);
    return 0;
  },
};
