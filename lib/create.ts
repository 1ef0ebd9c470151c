/**
 * `cluster create`: a brand-new cluster, or nothing. It refuses a name that exists in any
 * phase (the reference tool's `start` reused old state and then hung counting old SPUs), checks
 * every port before starting anything, and if anything fails after it began it stops what it
 * started and removes the directory, so a failed create leaves no trace but its error.
 * The cluster token (lib/token.ts) is written before any process starts: every daemon reads it.
 */
import type { Argv } from "yargs";
import { adminTarget, adminUrl } from "./admin.ts";
import { confirmSpus, DEFAULT_CONFIRM_SECONDS, formatIds, formatSpuProgress } from "./confirm-spus.ts";
import { ClusterError, UsageError } from "./errors.ts";
import {
  clusterExists,
  clusterPaths,
  ensureDir,
  listClusterNames,
  removeClusterDir,
  type ClusterPaths,
} from "./home.ts";
import { ensurePortsFree, planComponents, startComponents } from "./launch.ts";
import { locateCluster } from "./locate.ts";
import { acquireLock } from "./lock.ts";
import { makeSpuObject, MetadataStore, spuObjectName } from "./engine/store.ts";
import { formatPlan, type Plan } from "./plan.ts";
import { clusterOptions, createProgress, formatSeconds, printResult, timeoutOption, type CommonArgs } from "./output.ts";
import { stopProcesses } from "./procs.ts";
import {
  choosePortBase,
  ensureValidSpec,
  expectedSpuIds,
  firstPortBase,
  readSpecFile,
  resolveSpec,
  specPorts,
  validateSpec,
  type ResolvedSpec,
  type Spec,
} from "./spec.ts";
import { readSavedSpec, writeSavedSpec, writeState, type ProcessEntry } from "./state.ts";
import { observeCluster } from "./status.ts";
import { ensureToken } from "./token.ts";

export interface CreateOptions {
  home?: string;
  name?: string;
  spus?: number;
  specFile?: string;
  portBase?: number;
  timeoutSeconds?: number;
  onProgress?: (text: string) => void;
}

export interface CreateResult {
  name: string;
  phase: "running";
  adminUrl: string;
  portBase: number;
  spus: { expected: number[]; registered: number[]; online: number[] };
  elapsedMs: number;
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
  let processes: ProcessEntry[] = [];
  // Set once the directory is known to be ours: from then on, a failure removes it.
  let ours = false;
  try {
    if (clusterExists(paths)) throw await existsError(paths);
    ours = true;
    const resolved = claimPorts(paths, spec);
    ensureToken(paths);
    const components = planComponents(resolved, paths);
    await ensurePortsFree(resolved.host, components, paths.name);

    seedSpus(resolved);
    writeState(paths, { intent: "starting", processes: [] });
    options.onProgress?.(`starting the SC and ${resolved.spus.length} SPU(s) of cluster '${paths.name}'`);
    const launched = startComponents(components, paths);
    processes = launched.entries;
    writeState(paths, { intent: "starting", processes });
    launched.confirmRecorded();

    const sets = await confirmSpus({
      paths,
      admin: adminTarget(resolved, paths),
      expected: expectedSpuIds(resolved),
      processes,
      timeoutMs: (options.timeoutSeconds ?? DEFAULT_CONFIRM_SECONDS) * 1000,
      verb: "create",
      onProgress: (current) => options.onProgress?.(formatSpuProgress(current)),
    });
    writeState(paths, { intent: "running", processes });
    return {
      name: paths.name,
      phase: "running",
      adminUrl: adminUrl(resolved),
      portBase: resolved.portBase,
      spus: { expected: sets.expected, registered: sets.registered, online: sets.online },
      elapsedMs: Math.round(performance.now() - started),
    };
  } catch (error) {
    // Leave no trace: stop what was started, then remove what was written (initdb does the same).
    await stopProcesses(processes, { graceMs: 2_000 });
    if (ours) removeClusterDir(paths);
    throw error;
  } finally {
    lock.release();
  }
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

/**
 * Picks the port block and resolves the spec, under the home's lock so that two creates at
 * once cannot pick the same block, and saves it while still holding that lock.
 */
function claimPorts(paths: ClusterPaths, spec: Spec): ResolvedSpec {
  const homeLock = acquireLock(`${paths.home}/.lock`, { verb: "create", subject: `home '${paths.home}'`, wait: true });
  try {
    const resolved = resolveInHome(paths, spec);
    // Written under the home lock so the next create sees this block as claimed.
    writeSavedSpec(paths, resolved);
    return resolved;
  } finally {
    homeLock.release();
  }
}

/**
 * Resolves the spec with its port block: the one asked for, or the first one no other
 * cluster of this home has claimed (even a stopped one, which `resume` will need).
 */
function resolveInHome(paths: ClusterPaths, spec: Spec): ResolvedSpec {
  const claimedBy = new Map<number, string>();
  for (const other of listClusterNames(paths.home)) {
    if (other === paths.name) continue;
    const saved = tryReadSpec(clusterPaths(paths.home, other));
    for (const port of saved ? specPorts(saved) : []) claimedBy.set(port, other);
  }
  const portBase = choosePortBase(spec.portBase, spec.spus ?? 1, new Set(claimedBy.keys()), firstPortBase());
  const resolved = resolveSpec(spec, paths, portBase);
  const clash = specPorts(resolved).find((port) => claimedBy.has(port));
  if (clash !== undefined) {
    throw new ClusterError("PORT_IN_USE", `port ${clash} belongs to cluster '${claimedBy.get(clash)}' of this home`, {
      hint: "pick another --port-base, or leave it out to get the next free block",
    });
  }
  return resolved;
}

/** What `create` would do, checked as far as it can be without writing anything. */
export async function planCreate(options: CreateOptions): Promise<Plan> {
  const paths = locateCluster(options);
  const spec = await buildSpec(options);
  if (clusterExists(paths)) throw await existsError(paths);
  const resolved = resolveInHome(paths, spec);
  const components = planComponents(resolved, paths);
  await ensurePortsFree(resolved.host, components, paths.name);
  const store = new MetadataStore(resolved.metadataDir);
  return {
    dryRun: true,
    verb: "create",
    name: paths.name,
    actions: [
      { action: "write", path: paths.spec },
      { action: "write", path: paths.token },
      ...resolved.spus.map((spu) => ({ action: "write" as const, path: store.pathOf("SPU", spuObjectName(spu.id)) })),
      { action: "write", path: paths.state },
      { action: "check-ports", host: resolved.host, ports: components.flatMap((component) => component.ports) },
      ...components.map((component) => ({
        action: "start" as const,
        component: component.name,
        argv: component.argv,
        ports: component.ports,
      })),
    ],
  };
}

function tryReadSpec(paths: ClusterPaths): ResolvedSpec | undefined {
  try {
    return readSavedSpec(paths);
  } catch {
    return undefined;
  }
}

/** Writes the spec's SPUs into the SC's store before its first start, as initdb writes a catalog. */
function seedSpus(spec: ResolvedSpec): void {
  const store = new MetadataStore(spec.metadataDir);
  for (const spu of spec.spus) store.put("SPU", spuObjectName(spu.id), makeSpuObject(spu.id, spec.host, spu));
}

export function formatCreateResult(result: CreateResult): string {
  return (
    `cluster '${result.name}' is running: SPU${result.spus.online.length > 1 ? "s" : ""} ${formatIds(result.spus.online)} online, ` +
    `admin ${result.adminUrl} (${formatSeconds(result.elapsedMs)})`
  );
}

interface CreateArgs extends CommonArgs {
  spus?: number;
  spec?: string;
  portBase?: number;
  timeout: number;
  dryRun?: boolean;
}

export const createCommand = {
  command: "create",
  describe: "Create and start a new cluster (fails if one of that name exists)",
  builder: (yargs: Argv) =>
    timeoutOption(clusterOptions(yargs), "Seconds to wait for every SPU to be confirmed online", DEFAULT_CONFIRM_SECONDS)
      .option("spus", { type: "number", describe: "Number of SPUs (1..64, default 1)" })
      .option("spec", { type: "string", describe: "YAML spec file (see specs/)" })
      .option("port-base", { type: "number", describe: "Port base B: SC admin B+3, SPU i public B+10+10i (default 9000 or next free block)" })
      .option("dry-run", { type: "boolean", describe: "Print what would be done (processes, ports, files) and do none of it" })
      .example("$0 create --spus 3", "a cluster of 3 SPUs on ports from 9000")
      .example("$0 create --name dev --spec specs/three-spus.yaml", "a second cluster from a spec file"),
  handler: async (argv: CreateArgs): Promise<number> => {
    const options: CreateOptions = {
      home: argv.home,
      name: argv.name,
      spus: argv.spus,
      specFile: argv.spec,
      portBase: argv.portBase,
      timeoutSeconds: argv.timeout,
    };
    if (argv.dryRun) {
      printResult(argv, await planCreate(options), formatPlan);
      return 0;
    }
    const progress = createProgress(argv);
    const result = await createCluster({ ...options, onProgress: progress.update }).finally(progress.clear);
    printResult(argv, result, formatCreateResult);
    return 0;
  },
};
