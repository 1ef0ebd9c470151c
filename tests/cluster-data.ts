/**
 * What the data-path end-to-end tests (data.test.ts, failover.test.ts) share: running a verb
 * that must succeed, polling `status`, and reading a stopped SPU's partition log from disk.
 */
import { join } from "node:path";
import { clusterPaths } from "../lib/cluster/home.ts";
import { openPartitionLog } from "../lib/engine/storage/partition-log.ts";
import { valuesOf } from "./batches.ts";
import { adminTarget, type PartitionLeader, type RunningCluster } from "../lib/fluvio/admin.ts";
import { readSavedSpec } from "../lib/cluster/state.ts";
import { cli } from "./helpers.ts";

/** Runs `cluster ...args` in `home`; throws with its output unless it exits 0. */
export async function ok(home: string, args: string[], input?: string) {
  const result = await cli(home, args, { input });
  if (result.exitCode !== 0) throw new Error(`cluster ${args.join(" ")} exited ${result.exitCode}: ${result.stderr}${result.stdout}`);
  return result;
}

/** Cluster 'local' of `home` and SPU `spu`'s public port as the leader of `partition`, for calls straight to that SPU (the SC may be down). */
export function atSpu(home: string, spu: number, partition = 0): { cluster: RunningCluster; leader: PartitionLeader } {
  const paths = clusterPaths(home, "local");
  const spec = readSavedSpec(paths)!;
  const port = spec.spus.find((entry) => entry.id === spu)!.publicPort;
  return { cluster: { paths, spec, admin: adminTarget(spec) }, leader: { partition, leader: spu, address: { host: spec.host, port } } };
}

/** The directory of `topic` partition 0 on SPU `spu` of cluster 'local'. */
export function partitionDir(home: string, spu: number, topic: string): string {
  return join(clusterPaths(home, "local").data, `spu-${spu}`, `${topic}-0`);
}

/** The values in the log of `topic` partition 0 on SPU `spu` (those retention kept); that SPU must be stopped. */
export function logValues(home: string, spu: number, topic: string): string[] {
  const log = openPartitionLog(partitionDir(home, spu, topic));
  try {
    const values: string[] = [];
    for (let offset = log.startOffset; offset < log.endOffset; ) {
      const { bytes, nextOffset } = log.read(offset, { maxBytes: 1 << 20 });
      values.push(...valuesOf(bytes, offset));
      offset = nextOffset;
    }
    return values;
  } finally {
    log.close();
  }
}

/** How long a poll waits for a state before the test fails: far beyond what any step takes, so reaching it means a hang. */
const POLL_LIMIT_MS = 30_000;
/** How much of the last value seen a failed poll shows (its end, where a status's partitions are). */
const SHOWN_CHARS = 1_500;

/** Calls `probe` until `done` holds for its value; after POLL_LIMIT_MS fails naming `what` with the last value seen. */
export async function pollUntil<T>(what: string, probe: () => T | Promise<T>, done: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + POLL_LIMIT_MS;
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    if (Date.now() > deadline) {
      const shown = JSON.stringify(value) ?? String(value);
      throw new Error(`gave up waiting for ${what} after ${POLL_LIMIT_MS / 1000}s; last saw: ${shown.length > SHOWN_CHARS ? `...${shown.slice(-SHOWN_CHARS)}` : shown}`);
    }
    await Bun.sleep(50);
  }
}

/** Polls `status --json` until `done` holds for it; fails with the last status after POLL_LIMIT_MS. */
export function waitForStatus(home: string, done: (status: any) => boolean): Promise<any> {
  return pollUntil(`status to satisfy ${done.toString()}`, async () => (await cli(home, ["status", "--json"])).json, done);
}
