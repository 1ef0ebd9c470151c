/**
 * Where a cluster's files live: the home, the validated cluster names, every path of one
 * cluster. What writes them is lib/base/files.ts, atomically.
 */
import { readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ClusterError, UsageError } from "../base/errors.ts";

export const DEFAULT_NAME = "local";
const NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** Every path of one named cluster, all inside `$CLUSTER_HOME/<name>`. */
export interface ClusterPaths {
  home: string;
  name: string;
  dir: string;
  spec: string;
  state: string;
  lock: string;
  /** The cluster token (lib/cluster/token.ts), 0600. */
  token: string;
  metadata: string;
  data: string;
  logs: string;
}

/** `--home`, else `$CLUSTER_HOME`, else `$XDG_STATE_HOME/cluster`, else `~/.local/state/cluster`. */
export function resolveHome(home?: string): string {
  if (home) return home;
  if (home === "") throw new UsageError("--home is empty: pass a directory");
  if (process.env.CLUSTER_HOME) return process.env.CLUSTER_HOME;
  // NOTE: node:os is loaded only here: it costs every process that imports this file (the
  // daemons too) about 1 ms, and --home, CLUSTER_HOME or XDG_STATE_HOME usually answer first.
  const stateHome = process.env.XDG_STATE_HOME || join((require("node:os") as typeof import("node:os")).homedir(), ".local", "state");
  return join(stateHome, "cluster");
}

/** `--name`, else `$CLUSTER_NAME`, else `local`; validated so no path escapes the home. */
export function resolveName(name?: string): string {
  const resolved = name ?? (process.env.CLUSTER_NAME || DEFAULT_NAME);
  validateName(resolved);
  return resolved;
}

/** Throws a UsageError naming the rule when `name` is not a valid cluster name. */
function validateName(name: string): void {
  if (!NAME_PATTERN.test(name)) {
    throw new UsageError(
      `invalid cluster name '${name}': use 1 to 63 characters of a-z, 0-9 and '-', starting with a letter or digit`,
    );
  }
}

/** The log file of one component ("sc", "spu-5001") of the cluster at `paths`. */
export function logFileOf(paths: ClusterPaths, component: string): string {
  return join(paths.logs, `${component}.log`);
}

export function clusterPaths(home: string, name: string): ClusterPaths {
  const dir = join(home, name);
  return {
    home,
    name,
    dir,
    spec: join(dir, "cluster.yaml"),
    state: join(dir, "state.yaml"),
    lock: join(dir, "lock"),
    token: join(dir, "token"),
    metadata: join(dir, "metadata"),
    data: join(dir, "data"),
    logs: join(dir, "logs"),
  };
}

/** Names of the clusters in `home`, sorted: every entry with a valid name that `clusterExists`. */
export function listClusterNames(home: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(home);
  } catch (error) {
    const { code } = error as NodeJS.ErrnoException;
    if (code === "ENOENT") return [];
    throw new ClusterError("HOME_INVALID", `the cluster home '${home}' cannot be listed (${code ?? (error as Error).message})`, {
      hint: "pass a directory you own with --home or CLUSTER_HOME",
      cause: error,
    });
  }
  return entries
    .filter((entry) => NAME_PATTERN.test(entry) && clusterExists(clusterPaths(home, entry)))
    .sort();
}

/**
 * A cluster exists as soon as anything but its lock file is in its directory: a half-created
 * or hand-broken cluster exists too, so `create` refuses it and `delete` cleans it up.
 */
export function clusterExists(paths: ClusterPaths): boolean {
  try {
    return readdirSync(paths.dir).some((entry) => entry !== "lock");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
    if ((error as NodeJS.ErrnoException).code === "ENOTDIR") return true;
    throw error;
  }
}

/** Removes the cluster directory and everything in it; a no-op when it is already gone. */
export function removeClusterDir(paths: ClusterPaths): void {
  rmSync(paths.dir, { recursive: true, force: true });
}
