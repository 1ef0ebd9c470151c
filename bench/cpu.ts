/**
 * The CPU seconds the benches report beside each figure (a `cluster` command's, the SPUs' while
 * it ran), so a figure taken on a busy machine still says where the time went.
 */
import { readFileSync } from "node:fs";
import { clusterPaths } from "../lib/cluster/home.ts";
import { readState } from "../lib/cluster/state.ts";

/** Linux's USER_HZ, the unit of /proc/<pid>/stat's times. */
const CLOCK_TICKS_PER_SECOND = 100;

/** CPU seconds (user and system) the SPUs of cluster 'local' in `home` have used so far; 0 where /proc is not there. */
export function spuCpuSeconds(home: string): number {
  let total = 0;
  for (const entry of readState(clusterPaths(home, "local")).processes) {
    if (entry.role !== "spu") continue;
    try {
      const fields = readFileSync(`/proc/${entry.pid}/stat`, "utf8").split(") ")[1]!.split(" ");
      total += (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
    } catch {
      // An SPU that is gone (or no /proc): nothing to add.
    }
  }
  return total;
}

/** CPU seconds (user and system) an exited child took; 0 where Bun cannot tell. */
export function childCpuSeconds(child: Bun.Subprocess): number {
  const usage = child.resourceUsage();
  return usage ? (Number(usage.cpuTime.user) + Number(usage.cpuTime.system)) / 1e6 : 0;
}
