/**
 * What the data-path end-to-end tests (data.test.ts, failover.test.ts) share: running a verb
 * that must succeed, polling `status`, and reading a stopped SPU's partition log from disk.
 */
import { join } from "node:path";
import { clusterPaths } from "../lib/home.ts";
import { openPartitionLog } from "../lib/engine/partition-log.ts";
import { cli } from "./helpers.ts";

/** Runs `cluster ...args` in `home`; throws with its output unless it exits 0. */
export async function ok(home: string, args: string[], input?: string) {
  const result = await cli(home, args, { input });
  if (result.exitCode !== 0) throw new Error(`cluster ${args.join(" ")} exited ${result.exitCode}: ${result.stderr}${result.stdout}`);
  return result;
}

/** The directory of `topic` partition 0 on SPU `spu` of cluster 'local'. */
export function partitionDir(home: string, spu: number, topic: string): string {
  return join(clusterPaths(home, "local").data, `spu-${spu}`, `${topic}-0`);
}

/** The values in the log of `topic` partition 0 on SPU `spu`; that SPU must be stopped. */
export function logValues(home: string, spu: number, topic: string): string[] {
  const log = openPartitionLog(partitionDir(home, spu, topic));
  try {
    const values: string[] = [];
    for (let offset = 0; offset < log.endOffset; ) {
      const { records, nextOffset } = log.read(offset, 1 << 20);
      for (const record of records) values.push(Buffer.from(record.value).toString());
      offset = nextOffset;
    }
    return values;
  } finally {
    log.close();
  }
}

/** Polls `status --json` until `done` holds for it; the test's own timeout bounds the wait. */
export async function waitForStatus(home: string, done: (status: any) => boolean): Promise<any> {
  for (;;) {
    const status = (await cli(home, ["status", "--json"])).json;
    if (done(status)) return status;
    await Bun.sleep(50);
  }
}
