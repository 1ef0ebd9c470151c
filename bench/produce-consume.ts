/**
 * End-to-end benchmark of the data path: a real 3-SPU cluster in a temp home, 1,000,000
 * records of 100 bytes produced through `cluster produce` (acks=all) and read back through
 * `cluster consume -B -d`, at replication 1 and 3, plain and then compressed with zstd
 * (`cluster produce --compression zstd`). Prints records/s and MB/s for each, the CPU seconds
 * the CLI and the SPUs took for it (so runs on a busy machine can still be compared), and the
 * bytes the partitions take on disk per copy of 100 MB of record values. The figures include
 * the CLI's start-up.
 *
 * Beside it, a real peer: Redis Streams on one redis-server with `appendonly yes` and
 * `appendfsync everysec`, fed the same records with XADD through `redis-cli --pipe` and read
 * back with `redis-cli --raw XRANGE`, and the ratio of our records/s to its. The peer is
 * skipped, with a message, when redis-server is not installed; this script installs nothing.
 *
 * Run with `bun bench/produce-consume.ts [records]`.
 */
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isAlive, readStartTime, stopProcesses, type ProcessRecord } from "../lib/base/procs.ts";
import { childCpuSeconds, spuCpuSeconds } from "./cpu.ts";

const RECORDS = Number(process.argv[2] ?? 1_000_000);
const VALUE_BYTES = 100;
const REPLICATIONS = [1, 3];
/** Plain batches, then batches compressed by `cluster produce --compression zstd`. */
const CODECS = [undefined, "zstd"] as const;
const SPUS = 3;
/** A port block of the data tests' range (24000-31900) that tests leave alone. */
const PORT_BASE = 31_000;
/** In the same block, above the 3 SPUs' ports. */
const REDIS_PORT = 31_090;
const CLI = join(import.meta.dir, "..", "cluster.ts");

const home = mkdtempSync(join(tmpdir(), "cluster-bench-"));
// Fluvio's config file in the temp home: a bench never writes a profile into the real one.
const env = { ...process.env, CLUSTER_HOME: home, FLV_PROFILE_PATH: join(home, ".fluvio", "config") };

/** What one `cluster` run took: stdout's byte count, wall time, and the CPU seconds of the CLI and of the SPUs meanwhile. */
interface Run {
  stdout: number;
  millis: number;
  cliCpu: number;
  spuCpu: number;
}

async function run(args: string[], options: { stdin?: string } = {}): Promise<Run> {
  const spuBefore = spuCpuSeconds(home);
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
  const cliCpu = childCpuSeconds(child);
  return { stdout, millis, cliCpu, spuCpu: spuCpuSeconds(home) - spuBefore };
}

/** Prints one figure and returns its records/s. */
function report(label: string, millis: number, cpu?: { cliCpu: number; spuCpu: number }): number {
  const perSecond = (RECORDS / millis) * 1000;
  const megabytes = (perSecond * VALUE_BYTES) / 1e6;
  const cpuText = cpu ? `  CPU s: CLI ${cpu.cliCpu.toFixed(2)}, SPUs ${cpu.spuCpu.toFixed(2)}` : "";
  console.log(
    `${label.padEnd(34)} ${millis.toFixed(0).padStart(7)} ms  ${Math.round(perSecond).toLocaleString("en-US").padStart(10)} records/s  ${megabytes.toFixed(1).padStart(6)} MB/s${cpuText}`,
  );
  return perSecond;
}

function topicOf(replication: number, codec: string | undefined): string {
  return `bench-r${replication}${codec ? `-${codec}` : ""}`;
}

/** Runs `argv` to completion, timing it; stdin from `stdinFile` if given; returns stdout's byte count. */
async function timed(argv: string[], stdinFile?: string): Promise<{ stdout: number; millis: number }> {
  const started = performance.now();
  const child = Bun.spawn(argv, { stdin: stdinFile ? Bun.file(stdinFile) : "ignore", stdout: "pipe", stderr: "pipe" });
  let stdout = 0;
  for await (const chunk of child.stdout) stdout += chunk.byteLength;
  const code = await child.exited;
  if (code !== 0) throw new Error(`${argv.join(" ")} exited ${code}: ${await new Response(child.stderr).text()}`);
  return { stdout, millis: performance.now() - started };
}

/** The XADD commands for `lines`, in the Redis protocol, as `redis-cli --pipe` reads them. */
function xaddCommands(lines: string[]): string {
  return lines.map((value) => `*5\r\n$4\r\nXADD\r\n$5\r\nbench\r\n$1\r\n*\r\n$1\r\nv\r\n$${value.length}\r\n${value}\r\n`).join("");
}

/**
 * Produces and consumes the same records through Redis Streams; returns records/s for each,
 * or undefined when redis-server is not installed.
 */
async function redisPeer(lines: string[]): Promise<{ produce: number; consume: number } | undefined> {
  if (!Bun.which("redis-server") || !Bun.which("redis-cli")) {
    console.log("Redis Streams peer skipped: redis-server or redis-cli is not installed (Debian: apt-get install redis-server redis-tools)");
    return undefined;
  }
  const dir = join(home, "redis");
  await Bun.$`mkdir -p ${dir}`;
  const child = Bun.spawn(
    ["redis-server", "--port", String(REDIS_PORT), "--bind", "127.0.0.1", "--dir", dir, "--appendonly", "yes", "--appendfsync", "everysec", "--save", ""],
    { stdout: "ignore", stderr: "ignore" },
  );
  const record: ProcessRecord = { pid: child.pid, startTime: readStartTime(child.pid), argv: ["redis-server"] };
  try {
    const cli = ["redis-cli", "-p", String(REDIS_PORT)];
    for (let attempt = 0; (await timed([...cli, "ping"]).catch(() => undefined)) === undefined; attempt++) {
      if (attempt > 200 || !isAlive(record)) throw new Error(`redis-server did not answer on port ${REDIS_PORT}`);
      await Bun.sleep(10);
    }
    const commands = join(home, "xadd.resp");
    writeFileSync(commands, xaddCommands(lines));
    const produce = report("Redis XADD (redis-cli --pipe)", (await timed([...cli, "--pipe"], commands)).millis);
    const consumed = await timed([...cli, "--raw", "XRANGE", "bench", "-", "+"]);
    const consume = report("Redis XRANGE (redis-cli --raw)", consumed.millis);
    return { produce, consume };
  } finally {
    await stopProcesses([record], { graceMs: 2_000 });
  }
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
  const ours = new Map<number, { produce: number; consume: number }>();
  for (const codec of CODECS) {
    for (const replication of REPLICATIONS) {
      const topic = topicOf(replication, codec);
      const what = `replication ${replication}${codec ? `, ${codec}` : ""}`;
      await run(["topic", "create", topic, "--replication", String(replication)]);
      const produced = await run(["produce", topic, ...(codec ? ["--compression", codec] : [])], { stdin: input });
      const produce = report(`produce, ${what}`, produced.millis, produced);
      const consumed = await run(["consume", topic, "-B", "-d"]);
      const consume = report(`consume, ${what}`, consumed.millis, consumed);
      if (consumed.stdout !== RECORDS * (VALUE_BYTES + 1)) throw new Error(`consumed ${consumed.stdout} bytes, expected ${RECORDS * (VALUE_BYTES + 1)}`);
      if (!codec) ours.set(replication, { produce, consume });
    }
  }
  const dataDir = join(home, "local", "data");
  for (const codec of CODECS) {
    // Every copy: one per replica of each topic of this codec.
    let bytes = 0;
    for (const spu of readdirSync(dataDir)) {
      for (const replication of REPLICATIONS) {
        const dir = join(dataDir, spu, `${topicOf(replication, codec)}-0`);
        if (statSync(dir, { throwIfNoEntry: false })) bytes += directoryBytes(dir);
      }
    }
    const copies = REPLICATIONS.reduce((sum, replication) => sum + replication, 0);
    const perCopy = (bytes / copies / (RECORDS * VALUE_BYTES)) * 100;
    console.log(`on disk${codec ? `, ${codec}` : ""}: ${(bytes / 1e6).toFixed(1)} MB for ${copies} copies, ${perCopy.toFixed(1)} MB per copy of 100 MB of record values`);
  }
  await run(["shutdown"]);
  const peer = await redisPeer(lines);
  if (peer) {
    for (const [replication, figures] of ours) {
      console.log(
        `ours / Redis, replication ${replication}: produce ${(figures.produce / peer.produce).toFixed(2)}, consume ${(figures.consume / peer.consume).toFixed(2)}` +
          " (plain batches; Redis: one node, fsync once a second; ours: fsync before every acknowledgement)",
      );
    }
  }
} finally {
  await run(["delete"]).catch((error) => console.error(error.message));
  rmSync(home, { recursive: true, force: true });
}
