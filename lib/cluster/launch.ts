/**
 * What a cluster's processes are (the components of a saved spec, each with its argv, ports
 * and log file), which of them are missing, and the one function that starts them.
 * `create` and `resume` share it: a resume relaunches exactly the saved spec.
 */
import { currentRunMode, type RunMode } from "../startup/run-mode.ts";
import { ClusterError } from "../base/errors.ts";
import { logFileOf, type ClusterPaths } from "./home.ts";
import { ensureDir } from "../base/files.ts";
import { pollUntil } from "../base/poll-until.ts";
import { findBusyPorts, isAlive, startDetached, stopProcesses } from "../base/procs.ts";
import type { ResolvedSpec } from "./spec.ts";
import type { ProcessEntry, Role } from "./state.ts";

/** One process of a cluster, as the saved spec defines it. */
export interface Component {
  role: Role;
  id: number | null;
  /** "sc" or "spu-<id>", also the log file's name. */
  name: string;
  argv: string[];
  ports: number[];
  logFile: string;
}

const PORT_WAIT_MS = 500;
const PORT_RETRY_MS = 100;

/** How each daemon is run: the start of its argv, before its options. */
export interface DaemonCommands {
  sc: string[];
  spu: string[];
}

/**
 * How Bun runs the daemons' sources: their environment is the CLI's (which read its own `.env`),
 * and no `.env` or bunfig.toml of the directory the CLI was started in changes a daemon. The
 * bytecode cache's executable is built to read neither too, so both run one program.
 */
export const DAEMON_BUN_FLAGS = ["--no-env-file", "--config=/dev/null"];

/** The daemons run from their sources by this Bun. */
export const SOURCE_COMMANDS: DaemonCommands = {
  sc: [process.execPath, ...DAEMON_BUN_FLAGS, new URL("../engine/sc.ts", import.meta.url).pathname],
  spu: [process.execPath, ...DAEMON_BUN_FLAGS, new URL("../engine/spu.ts", import.meta.url).pathname],
};

/**
 * The daemons' executable in the bytecode cache (lib/startup/bytecode-cache.ts) when this command runs
 * from it, else their sources.
 *
 * NOTE: a rebuild removes the build before it only after current.json names the new one, and
 * it starts only once the cache is stale (so no command chose that build since); a command
 * that chose it just before would have to take a whole build's time (over a second) between
 * choosing and starting its daemons to find the executable gone.
 */
export function daemonCommands(mode: RunMode = currentRunMode()): DaemonCommands {
  if (mode.mode === "sources") return SOURCE_COMMANDS;
  return { sc: [mode.files.daemon, "sc"], spu: [mode.files.daemon, "spu"] };
}

/**
 * Every process of the saved spec, the SC first; each gets the token file's path, never the
 * token. Each daemon runs as `commands` says (only what is started depends on it).
 */
export function planComponents(spec: ResolvedSpec, paths: ClusterPaths, commands: DaemonCommands = SOURCE_COMMANDS): Component[] {
  const address = (port: number) => `${spec.host}:${port}`;
  const sc: Component = {
    role: "sc",
    id: null,
    name: "sc",
    argv: [
      ...commands.sc,
      "--await-record",
      "--token-file",
      paths.token,
      "--metadata",
      spec.metadataDir,
      "--public",
      address(spec.sc.publicPort),
      "--private",
      address(spec.sc.privatePort),
    ],
    ports: [spec.sc.publicPort, spec.sc.privatePort],
    logFile: logFileOf(paths, "sc"),
  };
  const spus = spec.spus.map(
    (spu): Component => ({
      role: "spu",
      id: spu.id,
      name: `spu-${spu.id}`,
      argv: [
        ...commands.spu,
        "--await-record",
        "--token-file",
        paths.token,
        "--id",
        String(spu.id),
        "--public",
        address(spu.publicPort),
        "--private",
        address(spu.privatePort),
        "--sc",
        address(spec.sc.privatePort),
        "--data",
        spu.dataDir,
      ],
      ports: [spu.publicPort, spu.privatePort],
      logFile: logFileOf(paths, `spu-${spu.id}`),
    }),
  );
  return [sc, ...spus];
}

/** The recorded process of `component`, if `state` has one. */
export function findEntry(entries: ProcessEntry[], component: Pick<Component, "role" | "id">): ProcessEntry | undefined {
  return entries.find((entry) => entry.role === component.role && entry.id === component.id);
}

/** The components with no live process among `entries` (`alive` says which entries still run). */
export function missingComponents(
  components: Component[],
  entries: ProcessEntry[],
  alive: (entry: ProcessEntry) => boolean,
): Component[] {
  return components.filter((component) => {
    const entry = findEntry(entries, component);
    return entry === undefined || !alive(entry);
  });
}

/** Throws PORT_IN_USE naming every port of `components` that something already holds. */
export async function ensurePortsFree(host: string, components: Component[], clusterName: string): Promise<void> {
  let busy = components.flatMap((component) => component.ports);
  // NOTE: a daemon whose starter was killed before recording it exits on its own within
  // milliseconds (see lib/engine/adoption.ts); give such a port a moment before calling it taken.
  await pollUntil(async () => {
    busy = await findBusyPorts(host, busy);
    return busy.length === 0 ? busy : undefined;
  }, { timeoutMs: PORT_WAIT_MS, firstPauseMs: PORT_RETRY_MS });
  if (busy.length === 0) return;
  const owners = busy.map((port) => {
    const owner = components.find((component) => component.ports.includes(port))!;
    return `${host}:${port} (${owner.name})`;
  });
  throw new ClusterError("PORT_IN_USE", `port${busy.length > 1 ? "s" : ""} ${owners.join(", ")} already in use`, {
    hint: `stop whatever listens there, or create the cluster with another --port-base ('cluster delete --name ${clusterName}' first if it exists)`,
  });
}

/**
 * Starts `components` detached, all at once (SPUs retry until the SC listens). The caller
 * saves the returned entries in `state.yaml` and then calls `confirmRecorded()`; until then
 * each process is ready to exit by itself should this command die.
 */
export function startComponents(
  components: Component[],
  paths: ClusterPaths,
): { entries: ProcessEntry[]; confirmRecorded(): void } {
  ensureDir(paths.logs);
  // NOTE: made here, not by the SPUs: an SPU makes only its own directory in it, so one that
  // outlives a `delete` (a killed create's, exiting by itself) cannot bring the cluster back.
  ensureDir(paths.data);
  const started = components.map((component) => ({
    component,
    process: startDetached(component.argv, { logFile: component.logFile }),
  }));
  return {
    entries: started.map(({ component, process }) => ({
      role: component.role,
      id: component.id,
      ports: component.ports,
      ...process.record,
    })),
    confirmRecorded: () => started.forEach(({ process }) => process.confirmRecorded()),
  };
}

/** The component name of a recorded process: "sc" or "spu-<id>". */
export function componentName(entry: Pick<ProcessEntry, "role" | "id">): string {
  return entry.role === "sc" ? "sc" : `spu-${entry.id}`;
}

/** The order in which processes are stopped: the SC first, then the SPUs (see `stopEntries`). */
export function stopOrder(entries: ProcessEntry[]): ProcessEntry[] {
  return [...entries.filter((entry) => entry.role === "sc"), ...entries.filter((entry) => entry.role === "spu")];
}

/** The entries of `entries` whose process still runs. */
export function liveEntries(entries: ProcessEntry[]): ProcessEntry[] {
  return entries.filter(isAlive);
}

/**
 * Stops recorded processes, the SC first and then the SPUs: Fluvio stops the SPUs first, but
 * then its SC sees each leader leave and elects another replica while the rest stop, so the
 * cluster would resume with leaders moved and in-sync sets shrunk. The SC stops without
 * electing, and SPUs keep what they hold without it, so the cluster resumes as it was.
 * Throws STOP_FAILED if any survives SIGKILL.
 */
export async function stopEntries(entries: ProcessEntry[], options: { graceMs: number; clusterName: string }) {
  const sc = await stopProcesses(
    entries.filter((entry) => entry.role === "sc"),
    options,
  );
  const spus = await stopProcesses(
    entries.filter((entry) => entry.role === "spu"),
    options,
  );
  const survivors = [...sc.survivors, ...spus.survivors];
  if (survivors.length > 0) {
    throw new ClusterError(
      "STOP_FAILED",
      `pid${survivors.length > 1 ? "s" : ""} ${survivors.map((entry) => entry.pid).join(", ")} of cluster '${options.clusterName}' survived SIGKILL`,
      { hint: "check them with 'ps' (a process in uninterruptible I/O exits when the I/O ends), then run the command again" },
    );
  }
  return { killed: [...sc.killed, ...spus.killed] as ProcessEntry[] };
}
