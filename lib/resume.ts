/**
 * `cluster resume`: brings a stopped or degraded cluster back from its saved `cluster.yaml`,
 * starting only the processes that are not running, and confirms the exact SPU set. It takes
 * no configuration flags: a different cluster is a `delete` and a `create`. If it fails it
 * stops what it started, leaving the cluster as it found it. A cluster created before clusters
 * had tokens gets one (lib/token.ts) when nothing of it runs; with processes running, their
 * token file must be there.
 */
import type { Argv } from "yargs";
import { adminTarget, adminUrl, listSpus, registerSpu, type AdminTarget } from "./admin.ts";
import { confirmLeaders, confirmSpus, DEFAULT_CONFIRM_SECONDS, formatIds, formatSpuProgress } from "./confirm-spus.ts";
import { ClusterError, UsageError } from "./errors.ts";
import { DEFAULT_NAME, pathExists, type ClusterPaths } from "./home.ts";
import { ensurePortsFree, liveEntries, missingComponents, planComponents, startComponents, stopEntries } from "./launch.ts";
import { acquireLock } from "./lock.ts";
import { makeSpuObject, MetadataStore, spuObjectName } from "./engine/store.ts";
import { clusterOptions, createProgress, formatSeconds, printResult, timeoutOption, type CommonArgs } from "./output.ts";
import { isAlive } from "./procs.ts";
import { expectedSpuIds, type ResolvedSpec } from "./spec.ts";
import { formatPlan, type Plan } from "./plan.ts";
import { locateCluster } from "./locate.ts";
import { readSavedSpec, readState, writeState, type ProcessEntry } from "./state.ts";
import { ensureToken } from "./token.ts";

export interface ResumeOptions {
  home?: string;
  name?: string;
  timeoutSeconds?: number;
  onProgress?: (text: string) => void;
}

export interface ResumeResult {
  name: string;
  phase: "running";
  alreadyRunning: boolean;
  /** Components started by this resume ("sc", "spu-5002"). */
  started: string[];
  adminUrl: string;
  spus: { expected: number[]; registered: number[]; online: number[] };
  /** Partitions whose leader was confirmed back. */
  partitions: number;
  elapsedMs: number;
}

const RESTART_GRACE_MS = 5_000;

function readSpecToResume(paths: ClusterPaths): ResolvedSpec {
  const spec = readSavedSpec(paths);
  if (!spec) {
    throw new ClusterError("STATE_CORRUPT", `cluster '${paths.name}' has no saved spec: it was not completely created`, {
      hint: `run 'cluster delete --name ${paths.name}', then 'cluster create --name ${paths.name}'`,
    });
  }
  return spec;
}

/** What `resume` would do: start the components of the saved spec that are not running. */
export async function planResume(options: ResumeOptions): Promise<Plan> {
  const paths = locateCluster(options, "exist");
  const spec = readSpecToResume(paths);
  const processes = readState(paths).processes;
  const missing = missingComponents(planComponents(spec, paths), processes, isAlive);
  await ensurePortsFree(spec.host, missing, paths.name);
  const makesToken = liveEntries(processes).length === 0 && !pathExists(paths.token);
  return {
    dryRun: true,
    verb: "resume",
    name: paths.name,
    ...(missing.length === 0 && { note: "every process is already running" }),
    actions:
      missing.length === 0
        ? []
        : [
            { action: "check-ports", host: spec.host, ports: missing.flatMap((component) => component.ports) },
            ...(makesToken ? [{ action: "write" as const, path: paths.token }] : []),
            ...missing.map((component) => ({ action: "start" as const, component: component.name, argv: component.argv, ports: component.ports })),
            { action: "write", path: paths.state },
          ],
  };
}

export async function resumeCluster(options: ResumeOptions): Promise<ResumeResult> {
  const started = performance.now();
  const paths = locateCluster(options, "exist");
  const lock = acquireLock(paths.lock, { verb: "resume", subject: `cluster '${paths.name}'` });
  let startedNow: ProcessEntry[] = [];
  try {
    const spec = readSpecToResume(paths);
    const state = readState(paths);
    if (lock.staleHolder && state.intent === "starting") {
      // The command before this one died while starting processes. Those it never confirmed
      // as recorded are exiting by themselves (lib/engine/adoption.ts), and which ones those
      // are cannot be told from here: stop them all and start afresh rather than count on them.
      await stopEntries(liveEntries(state.processes), { graceMs: RESTART_GRACE_MS, clusterName: paths.name });
      state.processes = [];
    }
    const running = liveEntries(state.processes);
    const missing = missingComponents(planComponents(spec, paths), running, isAlive);
    await ensurePortsFree(spec.host, missing, paths.name);
    // With nothing running no daemon holds a token yet, so a cluster without one can get one now.
    if (running.length === 0 && ensureToken(paths)) options.onProgress?.(`wrote a token for cluster '${paths.name}' to '${paths.token}'`);
    const admin = adminTarget(spec, paths);

    const scRunning = !missing.some((component) => component.role === "sc");
    if (scRunning) await registerMissingSpus(spec, admin);
    else seedMissingSpus(spec);
    if (missing.length > 0) {
      options.onProgress?.(`starting ${missing.map((component) => component.name).join(", ")} of cluster '${paths.name}'`);
    }
    const launched = startComponents(missing, paths);
    startedNow = launched.entries;
    const processes = [...running, ...startedNow];
    writeState(paths, { intent: "starting", processes });
    launched.confirmRecorded();

    const sets = await confirmSpus({
      paths,
      admin,
      expected: expectedSpuIds(spec),
      processes,
      timeoutMs: (options.timeoutSeconds ?? DEFAULT_CONFIRM_SECONDS) * 1000,
      verb: "resume",
      onProgress: (current) => options.onProgress?.(formatSpuProgress(current)),
    });
    const partitions = await confirmLeaders({
      admin,
      logsDir: paths.logs,
      timeoutMs: (options.timeoutSeconds ?? DEFAULT_CONFIRM_SECONDS) * 1000,
      onProgress: options.onProgress,
    });
    writeState(paths, { intent: "running", processes });
    return {
      name: paths.name,
      phase: "running",
      alreadyRunning: missing.length === 0,
      started: missing.map((component) => component.name),
      adminUrl: adminUrl(spec),
      spus: { expected: sets.expected, registered: sets.registered, online: sets.online },
      partitions,
      elapsedMs: Math.round(performance.now() - started),
    };
  } catch (error) {
    if (startedNow.length > 0) await rollBack(paths, startedNow);
    throw error;
  } finally {
    lock.release();
  }
}

/** Stops what this resume started and records the processes that were already running. */
async function rollBack(paths: ClusterPaths, startedNow: ProcessEntry[]): Promise<void> {
  await stopEntries(startedNow, { graceMs: 2_000, clusterName: paths.name });
  const before = readState(paths).processes.filter((entry) => !startedNow.some((mine) => mine.pid === entry.pid));
  const stillRunning = liveEntries(before);
  writeState(paths, { intent: stillRunning.length > 0 ? "running" : "stopped", processes: stillRunning });
}

/** With the SC stopped, puts back into its store any spec SPU missing there (the SC reads it on start). */
function seedMissingSpus(spec: ResolvedSpec): void {
  const store = new MetadataStore(spec.metadataDir);
  const stored = new Set(store.listSpus().map((spu) => spu.spec.spuId));
  for (const spu of spec.spus) {
    if (!stored.has(spu.id)) store.put("SPU", spuObjectName(spu.id), makeSpuObject(spu.id, spec.host, spu));
  }
}

/** With the SC running, registers through its admin API any spec SPU it does not have. */
async function registerMissingSpus(spec: ResolvedSpec, admin: AdminTarget): Promise<void> {
  const registered = new Set((await listSpus(admin)).map((spu) => spu.id));
  for (const spu of spec.spus) {
    if (registered.has(spu.id)) continue;
    await registerSpu(admin, { id: spu.id, host: spec.host, publicPort: spu.publicPort, privatePort: spu.privatePort });
  }
}

export function formatResumeResult(result: ResumeResult): string {
  const spus = `SPU${result.spus.online.length > 1 ? "s" : ""} ${formatIds(result.spus.online)} online`;
  if (result.alreadyRunning) return `cluster '${result.name}' is already running: ${spus}; nothing to do`;
  const leaders = result.partitions > 0 ? `; ${result.partitions} partition leader(s) back` : "";
  return `cluster '${result.name}' is running: started ${result.started.join(", ")}; ${spus}${leaders}, admin ${result.adminUrl} (${formatSeconds(result.elapsedMs)})`;
}

/** Flags of `create` that must not be given to `resume`, which relaunches the saved spec as it is. */
const CONFIGURATION_FLAGS = ["spus", "spec", "port-base"] as const;

interface ResumeArgs extends CommonArgs {
  timeout: number;
  dryRun?: boolean;
}

export const resumeCommand = {
  command: "resume",
  describe: "Start a stopped or degraded cluster exactly as its saved spec says (no configuration flags)",
  builder: (yargs: Argv) =>
    timeoutOption(clusterOptions(yargs), "Seconds to wait for every SPU to be confirmed online", DEFAULT_CONFIRM_SECONDS)
      .option("spus", { hidden: true })
      .option("spec", { hidden: true })
      .option("port-base", { hidden: true })
      .check((argv) => {
        const given = CONFIGURATION_FLAGS.filter((flag) => argv[flag] !== undefined);
        if (given.length === 0) return true;
        const name = (argv.name as string | undefined) || process.env.CLUSTER_NAME || DEFAULT_NAME;
        throw new UsageError(
          `resume takes no configuration flags (${given.map((flag) => `--${flag}`).join(", ")}): it starts the cluster exactly as saved; ` +
            `to change it, run 'cluster delete --name ${name}' and 'cluster create --name ${name}' with the new flags`,
        );
      })
      .option("dry-run", { type: "boolean", describe: "Print the processes that would be started and do nothing" })
      .example("$0 resume --name dev", "start cluster 'dev' again with its data"),
  handler: async (argv: ResumeArgs): Promise<number> => {
    if (argv.dryRun) {
      printResult(argv, await planResume(argv), formatPlan);
      return 0;
    }
    const progress = createProgress(argv);
    const result = await resumeCluster({
      home: argv.home,
      name: argv.name,
      timeoutSeconds: argv.timeout,
      onProgress: progress.update,
    }).finally(progress.clear);
    printResult(argv, result, formatResumeResult);
    return 0;
  },
};
