/**
 * Edges of the data path: a consumer whose reader goes away or whose leader is wedged, a
 * producer whose input never ends, counts that are not integers, refusals that keep their codes
 * with the SC running, answers that are not what was asked for, partition directories whose
 * marker cannot be read, and how a partition without a live leader is shown. End-to-end cases
 * run the real CLI against real SC and SPU processes, each in a fresh temp home with its own
 * port block; a wait that must end is bounded, and failing that bound means a hang.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { listSpus, produceBatch, type PartitionLeader, type RunningCluster } from "../../lib/fluvio/admin.ts";
import { API_VERSIONS_KEY, FLUVIO_PLATFORM_VERSION, SC_API_VERSIONS, SPU_API_VERSIONS } from "../../lib/engine/wire/fluvio/api-keys.ts";
import { encodeApiVersionsResponse } from "../../lib/engine/wire/fluvio/api-versions.ts";
import { NO_ERROR } from "../../lib/engine/wire/fluvio/error-code.ts";
import { decodeRequest, encodeResponse, FrameSplitter, MIN_REQUEST_BYTES } from "../../lib/engine/wire/fluvio/framing.ts";
import type { Writer } from "../../lib/engine/wire/fluvio/writer.ts";
import { clusterPaths } from "../../lib/cluster/home.ts";
import { readState } from "../../lib/cluster/state.ts";
import { readToken } from "../../lib/cluster/token.ts";
import { encodeFrame } from "../../lib/engine/wire/frame.ts";
import { formatLeader } from "../../lib/commands/status.ts";
import { ClusterError } from "../../lib/base/errors.ts";
import { decideMarker, MARKER_FILE, parseMarker, readMarker, type Marker, type MarkerDecision } from "../../lib/engine/data-plane/replica-marker.ts";
import { MetadataStore } from "../../lib/engine/control-plane/store.ts";
import { AdminRefusal, TopicRegistry, type PartitionView } from "../../lib/engine/control-plane/topic-registry.ts";
import { ok, partitionDir, pollUntil, waitForStatus } from "../cluster-data.ts";
import { CLI, cli, portBlocks, tempHome } from "../helpers.ts";

const nextPortBase = portBlocks(25000);
/** A bound on waits that must end: reaching it means a hang, not a slow machine. */
const HANG_MS = 15_000;

async function createCluster(spus: number): Promise<string> {
  const home = tempHome();
  await ok(home, ["create", "--spus", String(spus), "--port-base", String(nextPortBase())]);
  return home;
}

/** Resolves with `promise`'s value, or rejects naming `what` if it has not settled after HANG_MS. */
async function withinHangBound<T>(what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${HANG_MS / 1000}s: it hangs`)), HANG_MS);
  });
  try {
    return await Promise.race([promise, hang]);
  } finally {
    clearTimeout(timer);
  }
}

describe("consume", () => {
  test("consume -B without -d ends with exit 0 when its reader closes the pipe (like 'cat | head -1')", async () => {
    const home = await createCluster(1);
    await ok(home, ["topic", "create", "piped"]);
    // More than a pipe holds, so the consumer is waiting for the pipe to drain when its reader leaves.
    const values = Array.from({ length: 8_000 }, (_, i) => `record ${i} ${"z".repeat(120)}`);
    await ok(home, ["produce", "piped"], `${values.join("\n")}\n`);

    const consumer = Bun.spawn([process.execPath, CLI, "consume", "piped", "-B"], {
      env: { ...process.env, CLUSTER_HOME: home },
      stdout: "pipe",
      stderr: "pipe",
    });
    try {
      const reader = consumer.stdout.getReader();
      const first = await reader.read();
      expect(Buffer.from(first.value!).toString().split("\n")[0]).toBe(values[0]!);
      await reader.cancel();
      const exitCode = await withinHangBound("the consumer's exit after its reader left", consumer.exited);
      expect({ exitCode, stderr: await new Response(consumer.stderr).text() }).toEqual({ exitCode: 0, stderr: "" });
    } finally {
      consumer.kill("SIGKILL");
    }
  }, 60_000);

  test("consume -d whose leader is wedged (SIGSTOP) gives up on it and reads on at the leader the SC elects instead", async () => {
    const home = await createCluster(2);
    await ok(home, ["topic", "create", "wedged", "--replication", "2"]);
    await ok(home, ["produce", "wedged"], "one\ntwo\n");
    const { leader } = (await ok(home, ["status", "--json"])).json.partitions[0];
    const { pid } = readState(clusterPaths(home, "local")).processes.find((entry) => entry.id === leader)!;
    // Stopped, not dead: its connections stay open and nothing ever answers on them.
    process.kill(pid, "SIGSTOP");
    try {
      const consumed = await withinHangBound("the consume from a wedged leader", cli(home, ["consume", "wedged", "-B", "-d"]));
      expect({ exitCode: consumed.exitCode, stdout: consumed.stdout }).toEqual({ exitCode: 0, stdout: "one\ntwo\n" });
    } finally {
      process.kill(pid, "SIGCONT");
    }
  }, 60_000);
});

describe("produce", () => {
  test("produce fails with NO_TOPIC while its stdin is still open when its topic is deleted under it", async () => {
    const home = await createCluster(1);
    await ok(home, ["topic", "create", "doomed"]);
    const producer = Bun.spawn([process.execPath, CLI, "produce", "doomed", "--json"], {
      env: { ...process.env, CLUSTER_HOME: home },
      stdin: "pipe",
      stdout: "pipe",
      stderr: "pipe",
    });
    try {
      producer.stdin.write("before\n");
      await producer.stdin.flush();
      await waitForStatus(home, (status) => status.partitions[0]?.highWatermark === 1);
      await ok(home, ["topic", "delete", "doomed"]);
      // Once the SPU has dropped the replica, the next batch finds no leader and no topic.
      await pollUntil("the SPU to drop 'doomed-0'", () => existsSync(partitionDir(home, 5001, "doomed")), (exists) => !exists);
      producer.stdin.write("after\n");
      await producer.stdin.flush();
      // stdin stays open: only the failed batch can end the producer.
      const exitCode = await withinHangBound("the producer's exit after a failed batch", producer.exited);
      expect(exitCode).toBe(1);
      const { error } = JSON.parse(await new Response(producer.stdout).text());
      expect(error.code).toBe("NO_TOPIC");
      expect(error.message).toBe("topic 'doomed' does not exist in cluster 'local'; 1 record(s) were acknowledged to 'doomed' before it: partition 0 offset 0");
      expect(error.acknowledged.records).toBe(1);
    } finally {
      producer.kill("SIGKILL");
    }
  }, 60_000);

  test("produce reports the offsets it was given as they are, not one range over another producer's records in between", async () => {
    const home = await createCluster(1);
    await ok(home, ["topic", "create", "shared"]);
    const producer = Bun.spawn([process.execPath, CLI, "produce", "shared"], {
      env: { ...process.env, CLUSTER_HOME: home },
      stdin: "pipe",
      stdout: "pipe",
      stderr: "pipe",
    });
    try {
      producer.stdin.write("first a\nfirst b\n");
      await producer.stdin.flush();
      await waitForStatus(home, (status) => status.partitions[0]?.highWatermark === 2);
      const other = await ok(home, ["produce", "shared"], "other\n");
      producer.stdin.write("last\n");
      await producer.stdin.end();
      expect(await withinHangBound("the producer's exit", producer.exited)).toBe(0);
      expect(await new Response(producer.stdout).text()).toMatch(/^produced 3 record\(s\) to 'shared' in [23] batch\(es\): partition 0 offsets 0\.\.1, 3\n$/);
      expect(other.stdout).toBe("produced 1 record(s) to 'shared' in 1 batch(es): partition 0 offset 2\n");
    } finally {
      producer.kill("SIGKILL");
    }
  }, 60_000);
});

describe("a follower connection", () => {
  test("a malformed fetch drops that connection, says so in the SPU's log, and leaves the SPU serving", async () => {
    const home = await createCluster(1);
    await ok(home, ["topic", "create", "fetched"]);
    await ok(home, ["produce", "fetched"], "kept\n");
    const { leaderEpoch } = (await ok(home, ["status", "--json"])).json.partitions[0];
    const spu = readState(clusterPaths(home, "local")).processes.find((entry) => entry.id === 5001)!;
    const token = readToken(clusterPaths(home, "local"));
    // An epoch history that is not a list: the leader's reading of the fetch refuses it.
    const fetch = { type: "fetch", topic: "fetched", partition: 0, replicaId: 5009, leaderEpoch, offset: 1, maxBytes: 1 << 20, waitMs: 0, epochs: 7 };
    const socket = connect(spu.ports[1]!, "127.0.0.1");
    const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
    socket.on("error", () => {});
    try {
      socket.write(encodeFrame({ type: "hello", spuId: 5009, token }));
      socket.write(encodeFrame(fetch));
      await withinHangBound("the SPU closing the connection of a fetch it failed", closed);
    } finally {
      socket.destroy();
    }
    const log = readFileSync(join(clusterPaths(home, "local").logs, "spu-5001.log"), "utf8");
    expect(log).toContain("dropped a follower connection from 127.0.0.1: malformed fetch: 'epochs' is not an array");
    expect((await ok(home, ["consume", "fetched", "-B", "-d"])).stdout).toBe("kept\n");
  }, 60_000);
});

describe("spu register and unregister with the SC running", () => {
  test("spu register of a registered id fails with SPU_EXISTS, spu unregister of an unknown id with NO_SPU", async () => {
    const home = await createCluster(1);
    const registered = await cli(home, ["spu", "register", "--id", "5001", "--json"]);
    expect(registered.exitCode).toBe(1);
    expect(registered.json.error).toMatchObject({ code: "SPU_EXISTS", message: "SPU 5001 is already registered" });
    const unknown = await cli(home, ["spu", "unregister", "--id", "5009", "--json"]);
    expect(unknown.exitCode).toBe(1);
    expect(unknown.json.error).toMatchObject({ code: "NO_SPU", message: "SPU 5009 is not registered" });
    expect((await ok(home, ["spu", "list", "--json"])).json.map((spu: { spec: { spuId: number } }) => spu.spec.spuId)).toEqual([5001]);
  });
});

describe("the CLI's client of the public ports", () => {
  /**
   * A stand-in SC or SPU on a kernel-chosen loopback port: it answers ApiVersions as ours do,
   * then every other request with `answer`'s bytes (or never, when it gives undefined).
   */
  async function withStandIn<T>(answer: () => Uint8Array | undefined, run: (port: number) => Promise<T>): Promise<T> {
    const listener = Bun.listen<{ splitter: FrameSplitter }>({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        open(socket) {
          socket.data = { splitter: new FrameSplitter({ minBytes: MIN_REQUEST_BYTES }) };
        },
        data(socket, chunk) {
          for (const payload of socket.data.splitter.push(new Uint8Array(chunk))) {
            const { header } = decodeRequest(payload);
            const body =
              header.apiKey === API_VERSIONS_KEY
                ? (writer: Writer) =>
                    encodeApiVersionsResponse(writer, { errorCode: NO_ERROR, apiKeys: [...SC_API_VERSIONS, ...SPU_API_VERSIONS], platformVersion: FLUVIO_PLATFORM_VERSION })
                : answer();
            if (body === undefined) continue;
            socket.write(encodeResponse(header.correlationId, typeof body === "function" ? body : (writer) => writer.raw(body)));
          }
        },
      },
    });
    try {
      return await run(listener.port);
    } finally {
      listener.stop(true);
    }
  }

  function standInCluster(port: number): { cluster: RunningCluster; leader: PartitionLeader } {
    const cluster = { paths: { name: "local" }, admin: { address: { host: "127.0.0.1", port } } } as RunningCluster;
    return { cluster, leader: { partition: 0, leader: 5001, address: { host: "127.0.0.1", port } } };
  }

  async function thrownBy(call: () => Promise<unknown>): Promise<ClusterError> {
    const error = await call().then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(ClusterError);
    return error as ClusterError;
  }

  test("produceBatch() reports an SPU answer that does not decode as SPU_ERROR naming the SPU and its log", async () => {
    const error = await withStandIn(
      () => new Uint8Array([1, 2, 3]),
      (port) => {
        const { cluster, leader } = standInCluster(port);
        return thrownBy(() => produceBatch(cluster, "t", leader, [Buffer.from("a")], { timeoutMs: 2_000 }));
      },
    );
    expect(error.code).toBe("SPU_ERROR");
    expect(error.message).toStartWith("SPU 5001 answered with a malformed body: ");
    expect(error.hint).toContain("'cluster logs spu-5001 --name local'");
  });

  test("produceBatch() reports an SPU that does not answer within its time as SPU_UNREACHABLE (the code withLeader retries)", async () => {
    const error = await withStandIn(
      () => undefined,
      (port) => {
        const { cluster, leader } = standInCluster(port);
        return thrownBy(() => produceBatch(cluster, "t", leader, [Buffer.from("a")], { timeoutMs: 300 }));
      },
    );
    expect(error.code).toBe("SPU_UNREACHABLE");
    expect(error.message).toMatch(/^SPU 5001, the leader of partition 0, did not answer a produce within 1\.3s at 127\.0\.0\.1:\d+$/);
  });

  test("listSpus() reports an SC answer that does not decode as ADMIN_ERROR, and one that never comes as SC_UNREACHABLE", async () => {
    const garbled = await withStandIn(
      () => new Uint8Array([0, 3, 0x53]),
      (port) => thrownBy(() => listSpus(standInCluster(port).cluster.admin)),
    );
    expect(garbled.code).toBe("ADMIN_ERROR");
    expect(garbled.message).toStartWith("the SC's answer does not decode: ");
    expect(garbled.hint).toContain("'cluster logs sc'");
    const silent = await withStandIn(
      () => undefined,
      (port) => thrownBy(() => listSpus(standInCluster(port).cluster.admin)),
    );
    expect(silent.code).toBe("SC_UNREACHABLE");
  });
});

describe("topic create counts", () => {
  const cases: [string[], string][] = [
    [["--partitions", "abc"], "--partitions must be an integer of at least 1, not something that is not a number"],
    [["--partitions", "0"], "--partitions must be an integer of at least 1, not '0'"],
    [["--partitions", "-1"], "--partitions must be an integer of at least 1, not '-1'"],
    [["-p", "2.5"], "--partitions must be an integer of at least 1, not '2.5'"],
    [["--replication", "abc"], "--replication must be an integer of at least 1, not something that is not a number"],
    [["--replication", "0"], "--replication must be an integer of at least 1, not '0'"],
    [["--replication", "-1"], "--replication must be an integer of at least 1, not '-1'"],
    [["-r", "2.5"], "--replication must be an integer of at least 1, not '2.5'"],
  ];
  for (const [flags, message] of cases) {
    test(`topic create ${flags.join(" ")} is a usage error (exit 2) naming the flag`, async () => {
      const refused = await cli(tempHome(), ["topic", "create", "counted", ...flags, "--json"]);
      expect(refused.exitCode).toBe(2);
      expect(refused.json.error).toMatchObject({ code: "USAGE", message });
    });
  }

  const registryCases: [string, Record<string, unknown>, string][] = [
    ["null partitions (what JSON makes of NaN)", { partitions: null }, "partitions must be an integer from 1 to 1000, not 'null'"],
    ["null replication", { replication: null }, "replication must be an integer of at least 1, not 'null'"],
    ["string partitions", { partitions: "2" }, "partitions must be an integer from 1 to 1000, not '2'"],
    ["fractional replication", { replication: 1.5 }, "replication must be an integer of at least 1, not '1.5'"],
    ["zero partitions", { partitions: 0 }, "partitions must be an integer from 1 to 1000, not '0'"],
  ];
  for (const [what, fields, message] of registryCases) {
    test(`TopicRegistry.create() refuses ${what} with TOPIC_INVALID`, async () => {
      const dir = mkdtempSync(join(tmpdir(), "cluster-registry-"));
      try {
        const registry = new TopicRegistry(new MetadataStore(dir));
        let thrown: unknown;
        try {
          await registry.create({ name: "counted", ...fields }, [5001, 5002]);
        } catch (error) {
          thrown = error;
        }
        expect(thrown).toBeInstanceOf(AdminRefusal);
        expect({ code: (thrown as AdminRefusal).code, message: (thrown as AdminRefusal).message }).toEqual({ code: "TOPIC_INVALID", message });
        expect(registry.topicCount).toBe(0);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  test("TopicRegistry.create() gives absent counts their default of 1", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cluster-registry-"));
    try {
      const topic = await new TopicRegistry(new MetadataStore(dir)).create({ name: "counted" }, [5001]);
      expect(topic.spec).toMatchObject({ partitions: 1, replicationFactor: 1 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("partition directory markers", () => {
  const id = "3f0c-topic-id";
  const decisions: [string, Marker, MarkerDecision][] = [
    ["opens a directory whose marker names the topic", { kind: "topic", topicId: id }, { kind: "open" }],
    ["replaces a directory whose marker names another topic of the same name", { kind: "topic", topicId: "older" }, { kind: "replace" }],
    ["replaces a directory without a marker", { kind: "absent" }, { kind: "replace" }],
    [
      "leaves alone a directory whose marker cannot be read",
      { kind: "unreadable", problem: "it cannot be read (EIO)" },
      { kind: "refuse", problem: `its marker ${MARKER_FILE} is unusable: it cannot be read (EIO)` },
    ],
  ];
  for (const [what, marker, decision] of decisions) {
    test(`decideMarker() ${what}`, () => expect(decideMarker(marker, id)).toEqual(decision));
  }

  const texts: [string, string, Marker["kind"]][] = [
    ["a marker with a topic id", `{"topic":"t","partition":0,"topicId":"${id}"}`, "topic"],
    ["text that is not JSON", "{\"topic\":", "unreadable"],
    ["JSON without a topic id", `{"topic":"t"}`, "unreadable"],
    ["a topic id that is not a string", `{"topicId":7}`, "unreadable"],
    ["JSON null", "null", "unreadable"],
  ];
  for (const [what, text, kind] of texts) {
    test(`parseMarker() reads ${what} as '${kind}'`, () => expect(parseMarker(text).kind).toBe(kind));
  }

  test("an SPU resumed with an unreadable marker leaves the partition's data alone, does not open it, and says why", async () => {
    const home = await createCluster(1);
    await ok(home, ["topic", "create", "kept"]);
    await ok(home, ["produce", "kept"], "precious\n");
    await ok(home, ["shutdown"]);
    const dir = partitionDir(home, 5001, "kept");
    const files = readdirSync(dir).toSorted();
    writeFileSync(join(dir, MARKER_FILE), "{\"topic\":");

    const resumed = await cli(home, ["resume", "--timeout", "1", "--json"]);
    expect(resumed.exitCode).toBe(1);
    expect(resumed.json.error.message).toContain("kept-0 (leader SPU 5001)");
    expect(readdirSync(dir).toSorted()).toEqual(files);
    expect(readFileSync(join(dir, MARKER_FILE), "utf8")).toBe("{\"topic\":");
    const log = readFileSync(join(clusterPaths(home, "local").logs, "spu-5001.log"), "utf8");
    expect(log).toContain(`cannot open replica 'kept-0' and leaves '${dir}' alone: its marker ${MARKER_FILE} is unusable: it is not JSON`);
  });

  test("readMarker() finds a missing marker absent, and one it cannot read unreadable rather than absent", () => {
    const dir = mkdtempSync(join(tmpdir(), "cluster-marker-"));
    try {
      expect(readMarker(join(dir, "missing-0"))).toEqual({ kind: "absent" });
      expect(readMarker(dir)).toEqual({ kind: "absent" });
      // A directory where the marker file should be: reading it fails with EISDIR, not ENOENT.
      mkdirSync(join(dir, MARKER_FILE));
      const unreadable = readMarker(dir);
      expect(unreadable.kind).toBe("unreadable");
      expect(decideMarker(unreadable, id).kind).toBe("refuse");
      rmSync(join(dir, MARKER_FILE), { recursive: true });
      writeFileSync(join(dir, MARKER_FILE), `{"topicId":"${id}"}`);
      expect(readMarker(dir)).toEqual({ kind: "topic", topicId: id });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("a partition whose leader is offline", () => {
  /** The view of a topic at replication 3 on SPUs 5001-5003 (leader 5001) while `online` are connected, after the leader's `report` if any. */
  async function viewWhile(online: number[], report?: { highWatermarkKnown: boolean }): Promise<PartitionView> {
    const dir = mkdtempSync(join(tmpdir(), "cluster-registry-"));
    try {
      const registry = new TopicRegistry(new MetadataStore(dir));
      await registry.create({ name: "led", replication: 3 }, [5001, 5002, 5003]);
      if (report) {
        registry.recordReport(5001, [{ topic: "led", partition: 0, leaderEpoch: 0, isLeader: true, endOffset: 7, highWatermark: 2, sizeBytes: 0, ...report }]);
      }
      return registry.listPartitions((id) => online.includes(id))[0]!;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const cases: [string, number[], Pick<PartitionView, "leaderless" | "electionPending">, string, { highWatermarkKnown: boolean }?][] = [
    ["is pending an election while another in-sync replica is online", [5002], { leaderless: false, electionPending: true }, "5001 (offline, election pending)"],
    ["is leaderless only when no in-sync replica is online", [], { leaderless: true, electionPending: false }, "none (5001 offline, no in-sync replica to elect)"],
    ["is neither while its leader is online (not yet reported)", [5001], { leaderless: false, electionPending: false }, "5001 (offline)"],
    [
      "is not yet readable while its leader's high watermark is not known",
      [5001, 5002, 5003],
      { leaderless: false, electionPending: false },
      "5001 (high watermark catching up)",
      { highWatermarkKnown: false },
    ],
  ];
  for (const [what, online, flags, shown, report] of cases) {
    test(`TopicRegistry.listPartitions() and formatLeader(): a partition ${what}`, async () => {
      const view = await viewWhile(online, report);
      expect(view).toMatchObject({ leader: 5001, online: false, ...flags });
      expect(formatLeader(view)).toBe(shown);
    });
  }
});
