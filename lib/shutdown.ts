/**
 * `cluster shutdown`: stops the recorded processes (SIGTERM, then SIGKILL after the grace
 * period) and keeps everything else: spec, metadata, data and logs. Idempotent.
 */
import type { Argv } from "yargs";
import { componentName, liveEntries, stopEntries, stopOrder } from "./launch.ts";
import { acquireLock } from "./lock.ts";
import { clusterOptions, createProgress, formatSeconds, printResult, timeoutOption, type CommonArgs } from "./output.ts";
import { formatPlan, type Plan } from "./plan.ts";
import { locateCluster } from "./locate.ts";
import { readState, writeState } from "./state.ts";

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

/** What `shutdown` would do: the live recorded processes it would signal, SPUs first. */
export function planShutdown(options: ShutdownOptions): Plan {
  const paths = locateCluster(options, "exist");
  const running = stopOrder(liveEntries(readState(paths).processes));
  return {
    dryRun: true,
    verb: "shutdown",
    name: paths.name,
    ...(running.length === 0 && { note: "it is already stopped" }),
    actions: [
      ...running.map((entry) => ({ action: "signal" as const, component: componentName(entry), pid: entry.pid, signal: "SIGTERM" as const })),
      ...(running.length > 0 ? [{ action: "write" as const, path: paths.state }] : []),
    ],
  };
}

export async function shutdownCluster(options: ShutdownOptions): Promise<ShutdownResult> {
  const started = performance.now();
  const paths = locateCluster(options, "exist");
  const lock = acquireLock(paths.lock, { verb: "shutdown", subject: `cluster '${paths.name}'` });
  try {
    const state = readState(paths);
    const running = liveEntries(state.processes);
    if (running.length > 0) {
      options.onProgress?.(`stopping ${running.length} process(es) of cluster '${paths.name}'`);
      writeState(paths, { intent: "stopping", processes: state.processes });
    }
    const { killed } = await stopEntries(running, {
      graceMs: (options.timeoutSeconds ?? DEFAULT_GRACE_SECONDS) * 1000,
      clusterName: paths.name,
    });
    writeState(paths, { intent: "stopped", processes: [] });
    return {
      name: paths.name,
      phase: "stopped",
      alreadyStopped: running.length === 0,
      stopped: running.map((entry) => entry.pid),
      killed: killed.map((entry) => entry.pid),
      elapsedMs: Math.round(performance.now() - started),
    };
  } finally {
    lock.release();
  }
}

export function formatShutdownResult(result: ShutdownResult): string {
  if (result.alreadyStopped) return `cluster '${result.name}' is already stopped`;
  const killed = result.killed.length > 0 ? `; killed ${result.killed.join(", ")} after the grace period` : "";
  return `cluster '${result.name}' is stopped: ${result.stopped.length} process(es) ended${killed}; data kept (${formatSeconds(result.elapsedMs)})`;
}

interface ShutdownArgs extends CommonArgs {
  timeout: number;
  dryRun?: boolean;
}

export const shutdownCommand = {
  command: "shutdown",
  describe: "Stop a cluster's processes, keeping its spec, metadata, data and logs",
  builder: (yargs: Argv) =>
    timeoutOption(clusterOptions(yargs), "Grace period in seconds between SIGTERM and SIGKILL", DEFAULT_GRACE_SECONDS)
      .option("dry-run", { type: "boolean", describe: "Print the pids that would be signalled and do nothing" })
      .example("$0 shutdown --name dev", "stop cluster 'dev'; 'cluster resume --name dev' brings it back"),
  handler: async (argv: ShutdownArgs): Promise<number> => {
    if (argv.dryRun) {
      printResult(argv, planShutdown(argv), formatPlan);
      return 0;
    }
    const progress = createProgress(argv);
    const result = await shutdownCluster({
      home: argv.home,
      name: argv.name,
      timeoutSeconds: argv.timeout,
      onProgress: progress.update,
    }).finally(progress.clear);
    printResult(argv, result, formatShutdownResult);
    return 0;
  },
};
