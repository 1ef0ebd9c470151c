/**
 * End-to-end benchmark of the data path: a real 3-SPU cluster in a temp home, 1,000,000
 * records of 100 bytes produced through `cluster produce` (acks=all) and read back through
 * `cluster consume -B -d`, at replication 1 and 3. Prints records/s and MB/s for each, and
 * the size of the cluster's data directory. The figures include the CLI's start-up.
 *
 * Run with `bun bench/produce-consume.ts [records]`.
 */
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const RECORDS = Number(process.argv[2] ?? 1_000_000);
const VALUE_BYTES = 100;
const REPLICATIONS = [1, 3];
const SPUS = 3;
/** A port block of the data tests' range (24000-31900) that tests leave alone. */
const PORT_BASE = 31_000;
const CLI = join(import.meta.dir, "..", "cluster.ts");

const home = mkdtempSync(join(tmpdir(), "cluster-bench-"));
const env = { ...process.env, CLUSTER_HOME: home };

async function run(args: string[], options: { stdin?: string } = {}): Promise<{ stdout: number; millis: number }> {
  const started = performance.now();
  const child = Bun.spawn([process.execPath, CLI, ...args], {
    env,
    stdin: options.stdin ? Bun.file(options.stdin) : "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  let stdout = 0;
  for await (const chunk of child.stdout) stdout += chunk.byteLength;
  const code = await child.exited;
  const millis = performance.now() - started;
  if (code !== 0) throw new Error(`cluster ${args.join(" ")} exited ${code}: ${await new Response(child.stderr).text()}`);
  return { stdout, millis };
}

function report(label: string, millis: number): void {
  const perSecond = (RECORDS / millis) * 1000;
  const megabytes = (perSecond * VALUE_BYTES) / 1e6;
  console.log(
    `${label.padEnd(28)} ${millis.toFixed(0).padStart(7)} ms  ${Math.round(perSecond).toLocaleString("en-US").padStart(10)} records/s  ${megabytes.toFixed(1).padStart(6)} MB/s`,
  );
}

function directoryBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    total += entry.isDirectory() ? directoryBytes(path) : statSync(path).size;
  }
  return total;
}

try {
  // Each line is one 100-byte value naming its index, so a lost or reordered record changes the bytes.
  const input = join(home, "input.txt");
  const lines = Array.from({ length: RECORDS }, (_, i) => String(i).padStart(10, "0").padEnd(VALUE_BYTES, "x"));
  writeFileSync(input, `${lines.join("\n")}\n`);

  await run(["create", "--spus", String(SPUS), "--port-base", String(PORT_BASE)]);
  console.log(`${RECORDS.toLocaleString("en-US")} records of ${VALUE_BYTES} bytes, ${SPUS} SPUs, acks=all`);
  for (const replication of REPLICATIONS) {
    const topic = `bench-r${replication}`;
    await run(["topic", "create", topic, "--replication", String(replication)]);
    const produced = await run(["produce", topic], { stdin: input });
    report(`produce, replication ${replication}`, produced.millis);
    const consumed = await run(["consume", topic, "-B", "-d"]);
    report(`consume, replication ${replication}`, consumed.millis);
    if (consumed.stdout !== RECORDS * (VALUE_BYTES + 1)) throw new Error(`consumed ${consumed.stdout} bytes, expected ${RECORDS * (VALUE_BYTES + 1)}`);
  }
  const dataDir = join(home, "local", "data");
  console.log(`data dir ${dataDir}: ${(directoryBytes(dataDir) / 1e6).toFixed(1)} MB (replication 1 and 3: ${1 + 3} copies of the records)`);
} finally {
  await run(["delete"]).catch((error) => console.error(error.message));
  rmSync(home, { recursive: true, force: true });
}
