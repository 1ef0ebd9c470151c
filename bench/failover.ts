/**
 * How long leader failover takes: a real 3-SPU cluster in a temp home; for each trial a topic
 * at replication 3, a few records, then its leader killed with SIGKILL (by the pid state.yaml
 * records). From the kill it times (1) the SC's admin API naming a new leader, (2) that leader
 * reporting the partition under the new epoch, and (3) a produce to it being acknowledged by
 * its in-sync replicas. `resume` then brings the killed SPU back for the next trial.
 *
 * Run with `bun bench/failover.ts [trials]`.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { clusterPaths } from "../lib/home.ts";
import { readState } from "../lib/state.ts";
import { authorizationHeaders, readToken } from "../lib/token.ts";
import { encodeValues } from "../lib/engine/records.ts";

const TRIALS = Number(process.argv[2] ?? 5);
/** A port block of the failover tests' range (26000-31900) that tests leave alone. */
const PORT_BASE = 31_500;
const CLI = join(import.meta.dir, "..", "cluster.ts");
const ADMIN = `http://127.0.0.1:${PORT_BASE + 3}`;

const home = mkdtempSync(join(tmpdir(), "cluster-bench-"));
const env = { ...process.env, CLUSTER_HOME: home };

async function run(args: string[], input?: string): Promise<void> {
  const child = Bun.spawn([process.execPath, CLI, ...args], { env, stdin: input ? Buffer.from(input) : "ignore", stdout: "ignore", stderr: "pipe" });
  const code = await child.exited;
  if (code !== 0) throw new Error(`cluster ${args.join(" ")} exited ${code}: ${await new Response(child.stderr).text()}`);
}

/** The cluster token's headers, read once the cluster exists (the admin API and the SPUs want them). */
let auth: { authorization: string } | undefined;

async function partition(topic: string): Promise<{ leader: number; leaderEpoch: number; online: boolean; isr: number[] }> {
  return ((await (await fetch(`${ADMIN}/partitions?topic=${topic}`, { headers: auth })).json()) as any[])[0];
}

function publicPort(id: number): number {
  return readState(clusterPaths(home, "local")).processes.find((entry) => entry.id === id)!.ports[0]!;
}

const rows: { elected: number; online: number; produced: number }[] = [];
try {
  await run(["create", "--spus", "3", "--port-base", String(PORT_BASE)]);
  auth = authorizationHeaders(readToken(clusterPaths(home, "local")));
  for (let trial = 0; trial < TRIALS; trial++) {
    const topic = `failover-${trial}`;
    await run(["topic", "create", topic, "--replication", "3"]);
    await run(["produce", topic], "a\nb\nc\n");
    const before = await partition(topic);
    const victim = readState(clusterPaths(home, "local")).processes.find((entry) => entry.id === before.leader)!;
    const killed = performance.now();
    process.kill(victim.pid, "SIGKILL");
    let now = await partition(topic);
    while (now.leader === before.leader) now = await partition(topic);
    const elected = performance.now() - killed;
    while (!now.online) now = await partition(topic);
    const online = performance.now() - killed;
    for (;;) {
      const response = await fetch(`http://127.0.0.1:${publicPort(now.leader)}/produce/${topic}/0`, {
        method: "POST",
        headers: auth,
        body: encodeValues([Buffer.from("after failover")]),
      });
      if (response.ok) break;
    }
    const produced = performance.now() - killed;
    rows.push({ elected, online, produced });
    console.log(
      `trial ${trial + 1}: SPU ${before.leader} killed; SPU ${now.leader} elected at epoch ${now.leaderEpoch} after ${elected.toFixed(1)} ms, ` +
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
