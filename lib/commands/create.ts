/**
 * `cluster create`: a brand-new cluster, or nothing. It refuses a name that exists in any
 * phase (the reference tool's `start` reused old state and then hung counting old SPUs), checks
 * every port before starting anything, and if anything fails after it began it stops what it
 * started and removes the directory, so a failed create leaves no trace but its error.
 * The cluster token (lib/cluster/token.ts) is written before any process starts: every daemon reads it.
 */
import type { Argv } from "yargs";
import { applyPlan, previewPlan } from "../cluster/apply.ts";
import { checkFluvioProfile, fluvioConfigPath, validateProfileName } from "../cluster/fluvio-profile.ts";
import { DEFAULT_CONFIRM_SECONDS, formatIds } from "../cluster/confirm-spus.ts";
import { ClusterError, UsageError } from "../base/errors.ts";
import { clusterExists, clusterPaths, listClusterNames, removeClusterDir, type ClusterPaths } from "../cluster/home.ts";
import { ensureDir } from "../base/files.ts";
import { daemonCommands, planComponents, type DaemonCommands } from "../cluster/launch.ts";
import { locateCluster } from "../cluster/locate.ts";
import { acquireLock, type HeldLock } from "../base/lock.ts";
import { seedSpuAction, type Plan, type ShownPlan } from "../cluster/plan.ts";
import { clusterOptions, formatSeconds, lifecycleHandler, timeoutOption, type LifecycleArgs } from "../terminal/output.ts";
import {
  choosePortBase,
  ensureValidSpec,
  expectedSpuIds,
  firstPortBase,
  readSpecFile,
  resolveSpec,
  scEndpoint,
  specPorts,
  validateSpec,
  type ResolvedSpec,
  type Spec,
} from "../cluster/spec.ts";
import { readSavedSpec } from "../cluster/state.ts";

export interface CreateOptions {
  home?: string;
  name?: string;
  spus?: number;
  specFile?: string;
  portBase?: number;
  /** The Fluvio profile to write (default: the cluster's name). */
  profile?: string;
  timeoutSeconds?: number;
  onProgress?: (text: string) => void;
}

export interface CreateResult {
  name: string;
  phase: "running";
  endpoint: string;
  /** The Fluvio profile written for the cluster, now the current one. */
  profile: string;
  portBase: number;
  spus: { expected: number[]; registered: number[]; online: number[] };
  elapsedMs: number;
}

/** What `create` acts on: the spec asked for, and the port blocks other clusters of the home claim. */
export interface CreateObservation {
  paths: ClusterPaths;
  spec: Spec;
  /** Each port a saved spec of another cluster of this home holds, with that cluster's name. */
  claimedBy: Map<number, string>;
  /** Where automatic port blocks start (CLUSTER_PORT_BASE, or 9000). */
  firstPortBase: number;
  /** The Fluvio profile to write, and the config file it goes in (FLV_PROFILE_PATH, or ~/.fluvio/config). */
  profile: { name: string; configPath: string };
  /** How the daemons run: from the bytecode cache's executable, or from their sources. */
  daemonCommands: DaemonCommands;
}

/** A create plan, and the spec it saves. */
export interface CreatePlan extends Plan {
  spec: ResolvedSpec;
}

/** Creates and starts the cluster; resolves once every SPU of the spec is confirmed online. */
export async function createCluster(options: CreateOptions): Promise<CreateResult> {
  const started = performance.now();
  const paths = locateCluster(options);
  const spec = await buildSpec(options);
  if (clusterExists(paths)) throw await existsError(paths);

  ensureHome(paths.home);
  ensureDir(paths.dir);
  const lock = acquireLock(paths.lock, { verb: "create", subject: `cluster '${paths.name}'` });
  try {
    if (clusterExists(paths)) throw await existsError(paths);
    // From here the directory is ours: if anything fails, it goes (initdb does the same).
    let claim: HeldLock | undefined;
    try {
      // The port block is chosen under the home's lock and the lock let go once the spec that
      // claims the block is saved, so two creates at once never choose the same block.
      claim = acquireLock(`${paths.home}/.lock`, { verb: "create", subject: `home '${paths.home}'`, wait: true });
      const observed = observeCreate(paths, spec, options.profile);
      const plan = planCreate(observed);
      // A profile name that is taken fails the create before anything starts.
      checkFluvioProfile(paths, { name: observed.profile.name, endpoint: scEndpoint(plan.spec) }, observed.profile.configPath);
      const applied = await applyPlan(plan, {
        paths,
        timeoutMs: (options.timeoutSeconds ?? DEFAULT_CONFIRM_SECONDS) * 1000,
        onProgress: options.onProgress,
        claim,
      });
      // The plan ends by confirming the SPU set, so a create that got here has it.
      const sets = applied.spus!;
      return {
        name: paths.name,
        phase: "running",
        endpoint: scEndpoint(plan.spec),
        profile: observed.profile.name,
        portBase: plan.spec.portBase,
        spus: { expected: sets.expected, registered: sets.registered, online: sets.online },
        elapsedMs: Math.round(performance.now() - started),
      };
    } catch (error) {
      removeClusterDir(paths);
      throw error;
    } finally {
      claim?.release();
    }
  } finally {
    lock.release();
  }
}

/** What `create` would do, checked as far as it can be without writing anything. */
export async function previewCreate(options: CreateOptions): Promise<ShownPlan> {
  const paths = locateCluster(options);
  const spec = await buildSpec(options);
  if (clusterExists(paths)) throw await existsError(paths);
  const observed = observeCreate(paths, spec, options.profile);
  const plan = planCreate(observed);
  checkFluvioProfile(paths, { name: observed.profile.name, endpoint: scEndpoint(plan.spec) }, observed.profile.configPath);
  return previewPlan(plan, paths);
}

/** Reads the port blocks the other clusters of the home have claimed (even stopped ones, which `resume` will need). */
export function observeCreate(paths: ClusterPaths, spec: Spec, profile = paths.name): CreateObservation {
  validateProfileName(profile);
  const claimedBy = new Map<number, string>();
  for (const other of listClusterNames(paths.home)) {
    if (other === paths.name) continue;
    const saved = tryReadSpec(clusterPaths(paths.home, other));
    for (const port of saved ? specPorts(saved) : []) claimedBy.set(port, other);
  }
  return {
    paths,
    spec,
    claimedBy,
    firstPortBase: firstPortBase(),
    profile: { name: profile, configPath: fluvioConfigPath() },
    daemonCommands: daemonCommands(),
  };
}

/**
 * The plan of `create`: check every port, save the spec with its port block (the one asked
 * for, or the first no other cluster claims), write the token, seed the SC's store with the
 * SPUs, start every process, record them, confirm the SPU set, record the cluster running.
 * Everything from the spec to the record is written together (lib/cluster/apply.ts).
 */
export function planCreate(observed: CreateObservation): CreatePlan {
  const { paths } = observed;
  const spec = resolveInHome(observed);
  const components = planComponents(spec, paths, observed.daemonCommands);
  const endpoint = scEndpoint(spec);
  return {
    verb: "create",
    name: paths.name,
    spec,
    processes: [],
    actions: [
      { action: "check-ports", host: spec.host, components },
      { action: "write-spec", path: paths.spec, spec },
      { action: "write-token", path: paths.token },
      ...spec.spus.map((spu) => seedSpuAction(spec, spu)),
      {
        action: "write-state",
        path: paths.state,
        intent: "starting",
        progress: `starting the SC and ${spec.spus.length} SPU(s) of cluster '${paths.name}'`,
      },
      ...components.map((component) => ({ action: "start" as const, component })),
      { action: "write-state", path: paths.state, intent: "starting" },
      { action: "confirm-spus", endpoint: endpoint, expected: expectedSpuIds(spec) },
      { action: "write-profile", path: observed.profile.configPath, name: observed.profile.name, endpoint },
      { action: "write-state", path: paths.state, intent: "running" },
    ],
  };
}

/** The spec from `--spec FILE` and flags (flags win), validated before anything is touched. */
async function buildSpec(options: CreateOptions): Promise<Spec> {
  if (options.specFile !== undefined && options.spus !== undefined) {
    throw new UsageError("use either --spus or --spec, not both: the spec file sets 'spus'");
  }
  const flags: Spec = {};
  if (options.spus !== undefined) flags.spus = options.spus;
  if (options.portBase !== undefined) flags.portBase = options.portBase;
  const flagErrors = validateSpec(flags);
  if (flagErrors.length > 0) {
    // A bad flag is a usage error; spell it as the flag the user typed.
    throw new UsageError(flagErrors.map((error) => `--${error.replace("portBase", "port-base")}`).join("; "));
  }
  const fromFile = options.specFile !== undefined ? await readSpecFile(options.specFile) : {};
  return ensureValidSpec({ ...fromFile, ...flags }, `spec file '${options.specFile}'`);
}

async function existsError(paths: ClusterPaths): Promise<ClusterError> {
  // Loaded only here: a create that goes ahead never needs status.ts and the SC client under it.
  const { observeCluster } = await import("./status.ts");
  const { phase, problems } = await observeCluster(paths);
  const described = problems.length > 0 ? `${phase}, with problems` : phase;
  return new ClusterError("CLUSTER_EXISTS", `cluster '${paths.name}' already exists (${described})`, {
    hint: `run 'cluster resume --name ${paths.name}' to start it as saved, or 'cluster delete --name ${paths.name}' to remove it with its data`,
  });
}

function ensureHome(home: string): void {
  try {
    ensureDir(home);
  } catch (error) {
    throw new ClusterError("HOME_UNWRITABLE", `cannot create the cluster home '${home}': ${(error as Error).message}`, {
      hint: "pass a writable directory with --home or CLUSTER_HOME",
      cause: error,
    });
  }
}

/** The spec resolved with its port block; throws PORT_IN_USE when the block asked for is another cluster's. */
function resolveInHome(observed: CreateObservation): ResolvedSpec {
  const { paths, spec, claimedBy } = observed;
  const portBase = choosePortBase(spec.portBase, spec.spus ?? 1, new Set(claimedBy.keys()), observed.firstPortBase);
  const resolved = resolveSpec(spec, paths, portBase, observed.profile.name);
  const clash = specPorts(resolved).find((port) => claimedBy.has(port));
  if (clash !== undefined) {
    throw new ClusterError("PORT_IN_USE", `port ${clash} belongs to cluster '${claimedBy.get(clash)}' of this home`, {
      hint: "pick another --port-base, or leave it out to get the next free block",
    });
  }
  return resolved;
}

function tryReadSpec(paths: ClusterPaths): ResolvedSpec | undefined {
  try {
    return readSavedSpec(paths);
  } catch {
    return undefined;
  }
}

export function formatCreateResult(result: CreateResult): string {
  return (
    `cluster '${result.name}' is running: SPU${result.spus.online.length > 1 ? "s" : ""} ${formatIds(result.spus.online)} online, ` +
    `SC ${result.endpoint}, Fluvio profile '${result.profile}' (${formatSeconds(result.elapsedMs)})`
  );
}

interface CreateArgs extends LifecycleArgs {
  spus?: number;
  spec?: string;
  portBase?: number;
  profile?: string;
}

export const createCommand = {
  command: "create",
  describe: "Create and start a new cluster (fails if one of that name exists)",
  builder: (yargs: Argv) =>
    timeoutOption(clusterOptions(yargs), "Seconds to wait for every SPU to be confirmed online", DEFAULT_CONFIRM_SECONDS)
      .option("spus", { type: "number", describe: "Number of SPUs (1..64, default 1)" })
      .option("spec", { type: "string", describe: "YAML spec file (see specs/)" })
      .option("port-base", { type: "number", describe: "Port base B: SC B+3 (Fluvio clients), SPU i public B+10+10i (default 9000 or next free block)" })
      .option("profile", { type: "string", describe: "Name of the Fluvio profile to write for the cluster (default: the cluster's name)" })
      .option("dry-run", { type: "boolean", describe: "Print what would be done (processes, ports, files) and do none of it" })
      .example("$0 create --spus 3", "a cluster of 3 SPUs on ports from 9000")
      .example("$0 create --name dev --spec specs/three-spus.yaml", "a second cluster from a spec file"),
  handler: lifecycleHandler({
    options: (argv: CreateArgs): CreateOptions => ({
      home: argv.home,
      name: argv.name,
      spus: argv.spus,
      specFile: argv.spec,
      portBase: argv.portBase,
      profile: argv.profile,
      timeoutSeconds: argv.timeout,
    }),
    preview: previewCreate,
    run: createCluster,
    format: formatCreateResult,
  }),
};
