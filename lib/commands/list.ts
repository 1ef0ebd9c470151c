/**
 * `cluster list`: every cluster of a home with its observed phase.
 */
import type { Argv } from "yargs";
import { clusterPaths, listClusterNames, resolveHome } from "../cluster/home.ts";
import { printResult, type CommonArgs } from "../terminal/output.ts";
import { observeCluster, type Phase } from "./status.ts";

export interface ClusterSummary {
  name: string;
  phase: Phase;
  spus: number;
  endpoint: string | null;
}

/** Observes every cluster of the home at once. */
export async function listClusters(options: { home?: string }): Promise<ClusterSummary[]> {
  const home = resolveHome(options.home);
  const statuses = await Promise.all(listClusterNames(home).map((name) => observeCluster(clusterPaths(home, name))));
  return statuses.map((status) => ({
    name: status.name,
    phase: status.phase,
    spus: status.spus.expected.length,
    endpoint: status.endpoint,
  }));
}

export function formatClusterList(clusters: ClusterSummary[]): string {
  if (clusters.length === 0) return "no clusters; 'cluster create' makes one";
  const width = Math.max(4, ...clusters.map((cluster) => cluster.name.length));
  return [
    `${"NAME".padEnd(width)}  ${"PHASE".padEnd(8)}  SPUS  ADMIN`,
    ...clusters.map(
      (cluster) => `${cluster.name.padEnd(width)}  ${cluster.phase.padEnd(8)}  ${String(cluster.spus).padEnd(4)}  ${cluster.endpoint ?? "-"}`,
    ),
  ].join("\n");
}

export const listCommand = {
  command: "list",
  describe: "List the clusters of a home with their phase",
  builder: (yargs: Argv) =>
    yargs
      .option("home", { type: "string", describe: "Directory holding every cluster [env CLUSTER_HOME]" })
      .example("$0 list --json", "every cluster of the home with its phase, as JSON"),
  handler: async (argv: CommonArgs): Promise<number> => {
    printResult(argv, await listClusters(argv), formatClusterList);
    return 0;
  },
};
