/**
 * `cluster resume`: brings a stopped or degraded cluster back from its saved `cluster.yaml`,
 * starting only the processes that are not running, and confirms the exact SPU set. It takes
 * no configuration flags: a different cluster is a `delete` and a `create`. If it fails it
 * stops what it started, leaving the cluster as it found it. A cluster created before clusters
 * had tokens gets one (lib/cluster/token.ts) when nothing of it runs; with processes running, their
 * token file must be there.
 */
import type { Argv } from "yargs";
import type { SpuReport } from "../fluvio/admin.ts";
import { applyPlan, previewPlan } from "../cluster/apply.ts";
import { fluvioConfigPath } from "../cluster/fluvio-profile.ts";
import { compareSpuSets, DEFAULT_CONFIRM_SECONDS, formatIds, leaderlessPartitions } from "../cluster/confirm-spus.ts";
import { asStateCorrupt, ClusterError, UsageError } from "../base/errors.ts";
import { DEFAULT_NAME, type ClusterPaths } from "../cluster/home.ts";
import { pathExists } from "../base/files.ts";
import { daemonCommands, liveEntries, missingComponents, planComponents, stopOrder, type DaemonCommands } from "../cluster/launch.ts";
import { locateCluster } from "../cluster/locate.ts";
import { acquireLock, findStaleHolder, type LockHolder } from "../base/lock.ts";
import { clusterOptions, formatSeconds, lifecycleHandler, lifecycleOptions, timeoutOption } from "../terminal/output.ts";
import { seedSpuAction, startedComponents, type Action, type Plan, type ShownPlan } from "../cluster/plan.ts";
import { expectedSpuIds, profileName, scEndpoint, type ResolvedSpec } from "../cluster/spec.ts";
import { readSavedSpec, readState, type ProcessEntry } from "../cluster/state.ts";
import { readToken } from "../cluster/token.ts";
import { storedSpuIds } from "../engine/control-plane/mod.ts";
import type { PartitionView } from "../fluvio/admin.ts";

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
  endpoint: string;
  /** The cluster's Fluvio profile, written again when anything was started. */
  profile: string;
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

/** What `resume` acts on: the saved spec, what of it runs, and which SPUs are registered. */
export interface ResumeObservation {
  paths: ClusterPaths;
  spec: ResolvedSpec;
  /** The recorded processes that still run. */
  running: ProcessEntry[];
  /** The command before this one died while starting processes (its lock was left behind). */
  interrupted: boolean;
  tokenExists: boolean;
  /** Fluvio's config file, where the cluster's profile goes (FLV_PROFILE_PATH, or ~/.fluvio/config). */
  fluvioConfig: string;
  /** How the daemons run: from the bytecode cache's executable, or from their sources. */
  daemonCommands: DaemonCommands;
  /** The SPUs as the running SC reports them, with its partitions; or, with the SC not running, the ids its store holds. */
  registered: { by: "sc"; spus: SpuReport[]; partitions: PartitionView[] } | { by: "store"; ids: number[] };
}

/**
 * Reads the saved spec and state, and asks the SC (when it runs and is kept) which SPUs it
 * has. Reads the token now unless this resume is to write one, so a running cluster without
 * one fails with TOKEN_MISSING before anything starts.
 */
export async function observeResume(paths: ClusterPaths, staleHolder: LockHolder | undefined): Promise<ResumeObservation> {
  const spec = readSpecToResume(paths);
  const state = readState(paths);
  const interrupted = staleHolder !== undefined && state.intent === "starting";
  const running = liveEntries(state.processes);
  const kept = interrupted ? [] : running;
  const tokenExists = pathExists(paths.token);
  // A part started now must prove itself to the parts that run with the token they read.
  if (kept.length > 0) readToken(paths);
  const observed = { paths, spec, running, interrupted, tokenExists, fluvioConfig: fluvioConfigPath(), daemonCommands: daemonCommands() };
  if (kept.some((entry) => entry.role === "sc")) {
    // Loaded only here: the resume of a stopped cluster asks the SC nothing until it has started it.
    const { adminTarget, listPartitions, listSpus } = await import("../fluvio/admin.ts");
    const admin = adminTarget(spec);
    const [spus, partitions] = await Promise.all([listSpus(admin), listPartitions(admin)]);
    return { ...observed, registered: { by: "sc", spus, partitions } };
  }
  return { ...observed, registered: { by: "store", ids: asStateCorrupt(() => storedSpuIds(spec.metadataDir)) } };
}

/**
 * The plan of `resume`: start the spec's processes that do not run (after stopping all of
 * them if the last command died while starting them), each SPU registered first, then
 * confirm the SPU set and every partition's leader. A cluster that runs and is confirmed
 * needs nothing.
 */
export function planResume(observed: ResumeObservation): Plan {
  const { paths, spec, running, interrupted, registered } = observed;
  // The processes a command that died while starting left are exiting by themselves if it
  // never confirmed them recorded (lib/engine/adoption.ts), and which ones those are cannot be
  // told from here: stop them all and start afresh rather than count on them.
  const kept = interrupted ? [] : running;
  const missing = missingComponents(planComponents(spec, paths, observed.daemonCommands), kept, () => true);
  const endpoint = scEndpoint(spec);
  const expected = expectedSpuIds(spec);
  const plan = {
    verb: "resume" as const,
    name: paths.name,
    ...(missing.length === 0 && { note: "every process is already running" }),
    processes: running,
  };
  if (missing.length === 0 && registered.by === "sc" && isConfirmed(expected, registered)) return { ...plan, actions: [] };

  const registering: Action[] =
    registered.by === "sc"
      ? spec.spus
          .filter((spu) => !registered.spus.some((report) => report.id === spu.id))
          .map((spu) => ({ action: "register-spu", endpoint: endpoint, spu: { id: spu.id, host: spec.host, publicPort: spu.publicPort, privatePort: spu.privatePort } }))
      : spec.spus.filter((spu) => !registered.ids.includes(spu.id)).map((spu) => seedSpuAction(spec, spu));
  const starting = `starting ${missing.map((component) => component.name).join(", ")} of cluster '${paths.name}'`;
  return {
    ...plan,
    actions: [
      ...(interrupted ? stopOrder(running).map((entry) => ({ action: "stop" as const, entry, graceMs: RESTART_GRACE_MS })) : []),
      ...(missing.length > 0 ? [{ action: "check-ports" as const, host: spec.host, components: missing }] : []),
      // With nothing running no daemon holds a token yet, so a cluster without one can get one now.
      ...(kept.length === 0 && !observed.tokenExists
        ? [{ action: "write-token" as const, path: paths.token, progress: `wrote a token for cluster '${paths.name}' to '${paths.token}'` }]
        : []),
      ...registering,
      ...missing.map((component, index) => ({ action: "start" as const, component, ...(index === missing.length - 1 && { progress: starting }) })),
      ...(missing.length > 0 ? [{ action: "write-state" as const, path: paths.state, intent: "starting" as const }] : []),
      { action: "confirm-spus", endpoint: endpoint, expected },
      { action: "confirm-leaders", endpoint: endpoint },
      { action: "write-profile", path: observed.fluvioConfig, name: profileName(spec), endpoint },
      { action: "write-state", path: paths.state, intent: "running" },
    ],
  };
}

/** Whether the running SC already has exactly the expected SPUs online and every partition led. */
function isConfirmed(expected: number[], registered: { spus: SpuReport[]; partitions: PartitionView[] }): boolean {
  return compareSpuSets(expected, registered.spus).confirmed && leaderlessPartitions(registered.partitions).length === 0;
}

export async function resumeCluster(options: ResumeOptions): Promise<ResumeResult> {
  const started = performance.now();
  const paths = locateCluster(options, "exist");
  const lock = acquireLock(paths.lock, { verb: "resume", subject: `cluster '${paths.name}'` });
  try {
    const observed = await observeResume(paths, lock.staleHolder);
    const plan = planResume(observed);
    const applied = await applyPlan(plan, {
      paths,
      timeoutMs: (options.timeoutSeconds ?? DEFAULT_CONFIRM_SECONDS) * 1000,
      onProgress: options.onProgress,
    });
    // A plan is empty only when the running SC's answers already confirmed the cluster.
    const answered = observed.registered.by === "sc" ? observed.registered : undefined;
    const sets = applied.spus ?? compareSpuSets(expectedSpuIds(observed.spec), answered?.spus ?? []);
    const startedNow = startedComponents(plan);
    return {
      name: paths.name,
      phase: "running",
      alreadyRunning: startedNow.length === 0,
      started: startedNow.map((component) => component.name),
      endpoint: scEndpoint(observed.spec),
      profile: profileName(observed.spec),
      spus: { expected: sets.expected, registered: sets.registered, online: sets.online },
      partitions: applied.partitions ?? answered?.partitions.length ?? 0,
      elapsedMs: Math.round(performance.now() - started),
    };
  } finally {
    lock.release();
  }
}

/** What `resume` would do: start the components of the saved spec that are not running. */
export async function previewResume(options: ResumeOptions): Promise<ShownPlan> {
  const paths = locateCluster(options, "exist");
  return previewPlan(planResume(await observeResume(paths, findStaleHolder(paths.lock))), paths);
}

export function formatResumeResult(result: ResumeResult): string {
  const spus = `SPU${result.spus.online.length > 1 ? "s" : ""} ${formatIds(result.spus.online)} online`;
  if (result.alreadyRunning) return `cluster '${result.name}' is already running: ${spus}; nothing to do`;
  const leaders = result.partitions > 0 ? `; ${result.partitions} partition leader(s) back` : "";
  return `cluster '${result.name}' is running: started ${result.started.join(", ")}; ${spus}${leaders}, SC ${result.endpoint}, Fluvio profile '${result.profile}' (${formatSeconds(result.elapsedMs)})`;
}

/** Flags of `create` that must not be given to `resume`, which relaunches the saved spec as it is. */
const CONFIGURATION_FLAGS = ["spus", "spec", "port-base"] as const;

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
  handler: lifecycleHandler({ options: lifecycleOptions, preview: previewResume, run: resumeCluster, format: formatResumeResult }),
};
