/**
 * The one place that finds the cluster a command names, by `--home` and `--name` (or
 * CLUSTER_HOME and CLUSTER_NAME), and as much of it as the command needs: its paths; that
 * something of it exists; its saved spec; its running SC's public port. What is missing is the
 * error the user sees: NO_CLUSTER or NOT_RUNNING.
 */
import type { RunningCluster } from "../fluvio/admin.ts";
import { ClusterError } from "../base/errors.ts";
import { clusterExists, clusterPaths, resolveHome, resolveName, type ClusterPaths } from "./home.ts";
import type { ResolvedSpec } from "./spec.ts";
import { isScRunning, readSavedSpec } from "./state.ts";

/** Which cluster: `--home` and `--name` as given (each falls back to its environment variable). */
export interface ClusterSelector {
  home?: string;
  name?: string;
}

/** A cluster that has a saved spec. */
export interface SavedCluster {
  paths: ClusterPaths;
  spec: ResolvedSpec;
}

/**
 * The selected cluster's paths; with `must`, only if it exists ("exist"), has a saved spec
 * ("have-spec", which adds the spec) or has its SC running ("run", which adds the SC's public port).
 */
export function locateCluster(selector: ClusterSelector): ClusterPaths;
export function locateCluster(selector: ClusterSelector, must: "exist"): ClusterPaths;
export function locateCluster(selector: ClusterSelector, must: "have-spec"): SavedCluster;
export function locateCluster(selector: ClusterSelector, must: "run"): RunningCluster;
export function locateCluster(selector: ClusterSelector, must?: "exist" | "have-spec" | "run"): ClusterPaths | SavedCluster | RunningCluster {
  const paths = clusterPaths(resolveHome(selector.home), resolveName(selector.name));
  if (must === undefined) return paths;
  if (!clusterExists(paths)) throw noClusterError(paths);
  if (must === "exist") return paths;
  const spec = readSavedSpec(paths);
  if (!spec) throw noClusterError(paths);
  if (must === "have-spec") return { paths, spec };
  if (!isScRunning(paths)) {
    throw new ClusterError("NOT_RUNNING", `cluster '${paths.name}' is not running`, {
      hint: `run 'cluster resume --name ${paths.name}' to start it`,
    });
  }
  // NOTE: the target adminTarget() makes, without importing admin.ts for it: its codec costs
  // every verb that locates a cluster (shutdown and delete, which never talk to the SC) ~4 ms.
  return { paths, spec, admin: { address: { host: spec.host, port: spec.sc.publicPort } } };
}

function noClusterError(paths: ClusterPaths): ClusterError {
  return new ClusterError("NO_CLUSTER", `no cluster '${paths.name}' in '${paths.home}'`, {
    hint: `run 'cluster create --name ${paths.name}' to make one, or 'cluster list' to see the clusters of this home`,
  });
}
