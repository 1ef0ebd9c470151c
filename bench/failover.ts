/**
 * How long leader failover takes: a real 3-SPU cluster in a temp home; for each trial a topic
 * at replication 3, a few records, then its leader killed with SIGKILL (by the pid state.yaml
 * records). From the kill it times (1) the SC's public port (Fluvio's List of partitions)
 * naming a new leader, (2) that leader reporting the partition under the new epoch, and (3) a
 * produce to it, in Fluvio's protocol, being acknowledged by its in-sync replicas. `resume` then brings the killed SPU back for the next trial.
 *
 * Run with `bun bench/failover.ts [trials]`.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { clusterPaths } from "../lib/cluster/home.ts";
import { readSavedSpec, readState } from "../lib/cluster/state.ts";
import { adminTarget, listPartitions, produceBatch, type RunningCluster } from "../lib/fluvio/admin.ts";

const TRIALS = Number(process.argv[2] ?? 5);
/** A port block of the failover tests' range (26000-31900) that tests leave alone. */
const PORT_BASE = 31_500;
const CLI = join(import.meta.dir, "..", "cluster.ts");
/** Between two looks at the cluster: short, so the times measured are late by at most this much. */
const POLL_MS = 2;
/** A wait longer than this is a failover that did not happen: the bench stops and says which. */
const WAIT_LIMIT_MS = 30_000;

const home = mkdtempSync(join(tmpdir(), "cluster-bench-"));
// Fluvio's config file in the temp home: a bench never writes a profile into the real one.
const env = { ...process.env, CLUSTER_HOME: home, FLV_PROFILE_PATH: join(home, ".fluvio", "config") };

async function run(args: string[], input?: string): Promise<void> {
  const child = Bun.spawn([process.execPath, CLI, ...args], { env, stdin: input ? Buffer.from(input) : "ignore", stdout: "ignore", stderr: "pipe" });
  const code = await child.exited;
  if (code !== 0) throw new Error(`cluster ${args.join(" ")} exited ${code}: ${await new Response(child.stderr).text()}`);
}

/** The cluster as the CLI's client sees it, once it exists. */
let cluster: RunningCluster;

async function partition(topic: string): Promise<{ leader: number; online: boolean }> {
  return (await listPartitions(cluster.admin, topic))[0]!;
}

/** "acknowledged" for one produce to SPU `leader`, or the error that kept it from being acknowledged. */
async function produceOnce(topic: string, leader: number): Promise<string> {
  const address = { host: "127.0.0.1", port: publicPort(leader) };
  try {
    await produceBatch(cluster, topic, { partition: 0, leader, address }, [Buffer.from("after failover")], { timeoutMs: 5_000 });
    return "acknowledged";
  } catch (error) {
    return (error as Error).message;
  }
}

/** Calls `probe` every POLL_MS until `done` holds for its value; gives up after WAIT_LIMIT_MS with the last value. */
async function pollUntil<T>(what: string, probe: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  const deadline = performance.now() + WAIT_LIMIT_MS;
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    if (performance.now() > deadline) throw new Error(`gave up waiting for ${what} after ${WAIT_LIMIT_MS / 1000}s; last saw ${JSON.stringify(value)}`);
    await Bun.sleep(POLL_MS);
  }
}

function publicPort(id: number): number {
  return readState(clusterPaths(home, "local")).processes.find((entry) => entry.id === id)!.ports[0]!;
}

const rows: { elected: number; online: number; produced: number }[] = [];
try {
  await run(["create", "--spus", "3", "--port-base", String(PORT_BASE)]);
  const paths = clusterPaths(home, "local");
  const spec = readSavedSpec(paths)!;
  cluster = { paths, spec, admin: adminTarget(spec) };
  for (let trial = 0; trial < TRIALS; trial++) {
    const topic = `failover-${trial}`;
    await run(["topic", "create", topic, "--replication", "3"]);
    await run(["produce", topic], "a\nb\nc\n");
    const before = await partition(topic);
    const victim = readState(clusterPaths(home, "local")).processes.find((entry) => entry.id === before.leader)!;
    const killed = performance.now();
    process.kill(victim.pid, "SIGKILL");
    let now = await pollUntil("a new leader", () => partition(topic), (current) => current.leader !== before.leader);
    const elected = performance.now() - killed;
    now = await pollUntil(`SPU ${now.leader} serving`, () => partition(topic), (current) => current.online);
    const online = performance.now() - killed;
    await pollUntil(`a produce acknowledged by SPU ${now.leader}`, () => produceOnce(topic, now.leader), (answer) => answer === "acknowledged");
    const produced = performance.now() - killed;
    rows.push({ elected, online, produced });
    console.log(
      `trial ${trial + 1}: SPU ${before.leader} killed; SPU ${now.leader} elected after ${elected.toFixed(1)} ms, ` +
        `serving after ${online.toFixed(1)} ms, first produce acknowledged after ${produced.toFixed(1)} ms`,
    );
    await run(["resume"]);
  }
  const summary = (key: keyof (typeof rows)[number]) => {
    const values = rows.map((row) => row[key]).sort((a, b) => a - b);
    return `median ${values[Math.floor(values.length / 2)]!.toFixed(1)} ms, max ${values.at(-1)!.toFixed(1)} ms`;
  };
  console.log(`elected:  ${summary("elected")}`);
  console.log(`serving:  ${summary("online")}`);
  console.log(`produced: ${summary("produced")}`);
} finally {
  await run(["delete"]).catch((error) => console.error(error.message));
  rmSync(home, { recursive: true, force: true });
}
