/**
 * The public ports' limits (lib/engine/servers/public-port.ts) and a produce's timeout.
 *
 * End to end with real processes: connections trickling frames of the largest size each port
 * reads, against the daemons' resident memory (VmRSS of the recorded pids) while the real
 * Fluvio client produces and consumes on the same SPU; a thousand idle connections to the SC
 * and to an SPU; an acks=all produce whose follower is stopped (SIGSTOP by its recorded pid).
 * In-process, with small limits on real sockets: each limit closing what it must, alone.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { clusterPaths } from "../../lib/cluster/home.ts";
import { portLayout } from "../../lib/cluster/spec.ts";
import { readState } from "../../lib/cluster/state.ts";
import { SPU_API_KEY, SPU_VERSION } from "../../lib/engine/wire/fluvio/api-keys.ts";
import { encodeRequest, encodeResponse } from "../../lib/engine/wire/fluvio/framing.ts";
import { decodeProduceResponse, encodeProduceRequest } from "../../lib/engine/wire/fluvio/produce.ts";
import { FRAME_DEADLINE_MS, PublicPort, SC_PUBLIC_LIMITS, SPU_PUBLIC_LIMITS, type PublicPortLimits } from "../../lib/engine/servers/public-port.ts";
import { encodeBatches, recordBatch } from "../../lib/engine/wire/fluvio/record-batch.ts";
import { listenLinks } from "../../lib/engine/wire/link.ts";
import { setLogSink } from "../../lib/engine/daemon/log.ts";
import { ok } from "../cluster-data.ts";
import { apiVersionsRequest as rawApiVersions, openRaw, type RawConnection } from "../fluvio-raw.ts";
import { loadFluvioClient, type FluvioRecordIterator, type FluvioTopicProducer } from "../fluvio-client.ts";
import { portBlocks, tempHome } from "../helpers.ts";

const nextPortBase = portBlocks(22000);
/** NOTE: given here, not left to tests/setup.ts (see fluvio-bad-input.test.ts). */
const TEST_TIMEOUT_MS = 60_000;
const MIB = 1024 * 1024;
/** The resident memory no daemon may pass, whatever the trickling connections send. */
const MAX_RESIDENT_BYTES = 150_000_000;
const TOPIC = "steady";

/** VmRSS of `pid`, in bytes. */
function residentBytes(pid: number): number {
  const kib = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
  return Number(kib) * 1024;
}

function recordedPids(home: string): { sc: number; spus: Map<number, number> } {
  const processes = readState(clusterPaths(home, "local")).processes;
  return {
    sc: processes.find((entry) => entry.role === "sc")!.pid,
    spus: new Map(processes.filter((entry) => entry.role === "spu").map((entry) => [entry.id!, entry.pid])),
  };
}

const apiVersionsRequest = (correlationId: number) => rawApiVersions(correlationId, "limits");

/** A size prefix of `frameBytes`, then `chunk` every `everyMs` (what the socket takes of it), until the server closes. */
async function trickle(port: number, frameBytes: number, chunk: Uint8Array, everyMs: number): Promise<RawConnection> {
  const connection = await openRaw(port);
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(frameBytes);
  connection.write(prefix);
  const timer = setInterval(() => {
    if (connection.closed()) clearInterval(timer);
    else connection.write(chunk);
  }, everyMs);
  const end = connection.end;
  connection.end = () => {
    clearInterval(timer);
    end();
  };
  return connection;
}

/** `promise`, or a rejection naming `what` after `ms`. */
function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  promise.catch(() => {});
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`gave up waiting for ${what} after ${ms / 1000}s`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** Produces `count` records through the real client and reads them back from `stream`, each step within 5 s. */
async function produceAndRead(producer: FluvioTopicProducer, stream: FluvioRecordIterator, label: string, count = 20): Promise<string[]> {
  const values = Array.from({ length: count }, (_, i) => `${label} ${i}`);
  await withDeadline(producer.sendAll(values.map((value) => ["", Buffer.from(value)])), 5_000, `the send of '${label}'`);
  await withDeadline(producer.flush(), 5_000, `the flush of '${label}'`);
  const read: string[] = [];
  while (read.length < count) {
    const item = await withDeadline(stream.next(), 5_000, `'${label}' record ${read.length}`);
    read.push(item.value!.valueString());
  }
  return read;
}

/** A 1-SPU cluster with TOPIC, and the real client producing to it and streaming from it. */
async function clusterWithClient(spus = 1) {
  const home = tempHome();
  const portBase = nextPortBase();
  await ok(home, ["create", "--spus", String(spus), "--port-base", String(portBase)]);
  await ok(home, ["topic", "create", TOPIC, "--replication", String(spus)]);
  const client = await loadFluvioClient().connect(`127.0.0.1:${portBase + 3}`);
  const producer = await client.topicProducer(TOPIC);
  const stream = await (await client.partitionConsumer(TOPIC, 0)).createStream({ index: 0, from: "beginning" });
  return { home, layout: portLayout(portBase, spus), client, producer, stream };
}

/** Each process's public port figures from `status --json`, by component name. */
async function figuresByName(home: string): Promise<Record<string, any>> {
  const status = (await ok(home, ["status", "--json"])).json;
  return Object.fromEntries(status.processes.map((process: any) => [process.name, process.publicPort]));
}

describe("the public ports under hostile load", () => {
  test(
    "50 connections trickling frames of the largest size to the SC and 50 to the SPU leave each daemon under 150 MB resident, while the real client produces and consumes on that SPU throughout; every trickling connection is closed, a 60 MiB size prefix at once",
    async () => {
      const cluster = await clusterWithClient();
      const { home, layout, producer, stream } = cluster;
      const pids = recordedPids(home);
      const daemons = { sc: pids.sc, "spu-5001": pids.spus.get(5001)! };
      const peak: Record<string, number> = { sc: 0, "spu-5001": 0 };
      const sample = () => {
        for (const [name, pid] of Object.entries(daemons)) peak[name] = Math.max(peak[name]!, residentBytes(pid));
      };
      sample();
      const before = { ...peak };

      // The figures at the SPU: 1 MiB every half second, each connection; the SC's largest frame is 1 MiB, so it gets 64 KiB.
      const spuPort = layout.spus[0]!.publicPort;
      const trickling = [
        ...(await Promise.all(Array.from({ length: 50 }, () => trickle(spuPort, SPU_PUBLIC_LIMITS.maxFrameBytes, new Uint8Array(MIB), 500)))),
        ...(await Promise.all(Array.from({ length: 50 }, () => trickle(layout.sc.publicPort, SC_PUBLIC_LIMITS.maxFrameBytes, new Uint8Array(64 * 1024), 500)))),
      ];
      const pastLimit = await Promise.all([trickle(spuPort, 60 * MIB, new Uint8Array(MIB), 500), trickle(layout.sc.publicPort, 60 * MIB, new Uint8Array(MIB), 500)]);
      const sampler = setInterval(sample, 100);
      const started = Date.now();
      let rounds = 0;
      let midRun: Record<string, any> | undefined;
      try {
        const closedAtOnce = await Promise.all(pastLimit.map((connection) => connection.closedWithin(1_000)));
        expect(closedAtOnce).toEqual([true, true]);
        // Every trickled frame is closed by its deadline at the latest; the client works all along.
        while (Date.now() - started < FRAME_DEADLINE_MS + 1_500) {
          expect(await produceAndRead(producer, stream, `round ${rounds}`)).toHaveLength(20);
          rounds++;
          midRun ??= await figuresByName(home);
          await Bun.sleep(200);
        }
      } finally {
        clearInterval(sampler);
        for (const connection of [...trickling, ...pastLimit]) connection.end();
      }
      sample();
      const open = trickling.filter((connection) => !connection.closed()).length;
      const after = await figuresByName(home);
      console.log(
        `trickling: peak VmRSS SC ${(peak.sc! / MIB).toFixed(1)} MiB (at start ${(before.sc! / MIB).toFixed(1)}), ` +
          `SPU ${(peak["spu-5001"]! / MIB).toFixed(1)} MiB (at start ${(before["spu-5001"]! / MIB).toFixed(1)}); ${rounds} client rounds; ` +
          `SPU figures ${JSON.stringify(after["spu-5001"])}, SC ${JSON.stringify(after.sc)}`,
      );

      expect(peak.sc!).toBeLessThan(MAX_RESIDENT_BYTES);
      expect(peak["spu-5001"]!).toBeLessThan(MAX_RESIDENT_BYTES);
      expect(open).toBe(0);
      expect(rounds).toBeGreaterThanOrEqual(3);
      expect(midRun!["spu-5001"].pendingBytes).toBeLessThanOrEqual(SPU_PUBLIC_LIMITS.maxPendingBytes);
      expect(midRun!.sc.pendingBytes).toBeLessThanOrEqual(SC_PUBLIC_LIMITS.maxPendingBytes);
      for (const name of ["sc", "spu-5001"]) {
        expect(after[name].closedOverPendingBytes).toBeGreaterThan(0);
        expect(after[name].closedOverPendingBytes + after[name].closedPastDeadline).toBeGreaterThanOrEqual(50);
        expect([after[name].heldBytes, after[name].pendingBytes]).toEqual([0, 0]);
      }
      expect(recordedPids(home)).toEqual(pids);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "1,000 idle connections to the SC and 1,000 to the SPU neither crash a daemon nor stop a new client, and stay open past the frame deadline; one that never sends a request is closed by it",
    async () => {
      const home = tempHome();
      const portBase = nextPortBase();
      await ok(home, ["create", "--spus", "1", "--port-base", String(portBase)]);
      await ok(home, ["topic", "create", TOPIC]);
      const layout = portLayout(portBase, 1);
      const pids = recordedPids(home);
      const idle: RawConnection[] = [];
      const silent = await openRaw(layout.sc.publicPort);
      try {
        for (const port of [layout.sc.publicPort, layout.spus[0]!.publicPort]) {
          // In hundreds: a thousand at once would pass the listen backlog, and the rest wait on SYN retries.
          for (let batch = 0; batch < 10; batch++) {
            const opened = await Promise.all(Array.from({ length: 100 }, () => openRaw(port)));
            for (const connection of opened) connection.write(apiVersionsRequest(1));
            await Promise.all(opened.map((connection) => connection.settle(1, 5_000)));
            idle.push(...opened);
          }
        }
        const openedAt = Date.now();
        expect(idle.filter((connection) => !connection.answers.has(1))).toEqual([]);

        const client = await loadFluvioClient().connect(`127.0.0.1:${portBase + 3}`);
        const producer = await client.topicProducer(TOPIC);
        const stream = await (await client.partitionConsumer(TOPIC, 0)).createStream({ index: 0, from: "beginning" });
        expect(await produceAndRead(producer, stream, "beside the idle")).toHaveLength(20);

        await Bun.sleep(Math.max(0, openedAt + FRAME_DEADLINE_MS + 1_000 - Date.now()));
        expect(silent.closed()).toBe(true);
        expect(idle.filter((connection) => connection.closed())).toHaveLength(0);
        const figures = await figuresByName(home);
        console.log(`1,000 idle connections to each: VmRSS SC ${(residentBytes(pids.sc) / MIB).toFixed(1)} MiB, SPU ${(residentBytes(pids.spus.get(5001)!) / MIB).toFixed(1)} MiB`);
        expect(figures.sc.connections).toBeGreaterThanOrEqual(1_001);
        expect(figures["spu-5001"].connections).toBeGreaterThanOrEqual(1_001);
        expect(figures.sc.closedPastDeadline).toBe(1);
        expect(await produceAndRead(producer, stream, "still beside the idle")).toHaveLength(20);
        expect((await ok(home, ["status", "--json"])).json.phase).toBe("running");
        expect(recordedPids(home)).toEqual(pids);
      } finally {
        for (const connection of [...idle, silent]) connection.end();
      }
    },
    TEST_TIMEOUT_MS,
  );
});

describe("a produce's timeout", () => {
  test(
    "an acks=all produce whose follower is stopped (SIGSTOP) and whose timeout is 1 s is answered RequestTimedOut within 2 s with the offset it was stored at, and is acknowledged once the follower goes on",
    async () => {
      const home = tempHome();
      const portBase = nextPortBase();
      await ok(home, ["create", "--spus", "2", "--port-base", String(portBase)]);
      await ok(home, ["topic", "create", TOPIC, "--replication", "2"]);
      await ok(home, ["produce", TOPIC], "before\n");
      const { leader, replicas } = (await ok(home, ["status", "--json"])).json.partitions[0];
      const follower = (replicas as number[]).find((id) => id !== leader)!;
      const followerPid = recordedPids(home).spus.get(follower)!;
      const leaderPort = portLayout(portBase, 2).spus.find((spu) => spu.id === leader)!.publicPort;
      const connection = await openRaw(leaderPort);
      connection.write(apiVersionsRequest(1));
      await connection.settle(1, 5_000);

      const produce = encodeRequest({ apiKey: SPU_API_KEY.produce, apiVersion: SPU_VERSION, correlationId: 2, clientId: "limits" }, (writer) =>
        encodeProduceRequest(
          writer,
          {
            transactionalId: null,
            isolation: "ReadCommitted",
            timeoutMs: 1_000,
            topics: [{ name: TOPIC, partitions: [{ partitionIndex: 0, records: encodeBatches([recordBatch([{ key: null, value: Buffer.from("while stopped") }], { firstTimestamp: Date.now() })]) }] }],
            smartModules: [],
          },
          SPU_VERSION,
        ),
      );
      process.kill(followerPid, "SIGSTOP");
      let answeredMs: number;
      try {
        const sentAt = performance.now();
        connection.write(produce);
        await connection.settle(2, 5_000);
        answeredMs = performance.now() - sentAt;
      } finally {
        process.kill(followerPid, "SIGCONT");
      }
      const answer = decodeProduceResponse(connection.answers.get(2)!, SPU_VERSION).responses[0]!.partitions[0]!;
      connection.end();
      expect(answer).toMatchObject({ errorCode: { code: "RequestTimedOut", timeoutMs: 1_000, requestKind: "Produce" }, baseOffset: 1 });
      expect(answeredMs).toBeGreaterThanOrEqual(950);
      expect(answeredMs).toBeLessThan(2_000);
      // Stored on the leader, it is acknowledged once the follower fetches it.
      expect((await ok(home, ["consume", TOPIC, "-B", "-d"])).stdout).toBe("before\nwhile stopped\n");
    },
    TEST_TIMEOUT_MS,
  );
});

/** A PublicPort with `limits` on a real listener in this process; every payload it reads is answered under its length as correlation id. */
function servePort(port: number, limits: PublicPortLimits) {
  const publicPort = new PublicPort(limits);
  const listener = listenLinks({ host: "127.0.0.1", port }, (link) => publicPort.serve(link, (payload) => link.write(encodeResponse(payload.byteLength, () => {}))));
  return { publicPort, stop: () => listener.stop(true) };
}

/** A frame of `payloadBytes` (its size prefix and payload), or only its first `sent` bytes. */
function frame(payloadBytes: number, sent = 4 + payloadBytes): Uint8Array {
  const bytes = Buffer.alloc(4 + payloadBytes, 7);
  bytes.writeUInt32BE(payloadBytes);
  return bytes.subarray(0, sent);
}

const logged: string[] = [];
setLogSink((line) => logged.push(line));
/** What the in-process ports logged since `from`, without timestamps. */
const loggedSince = (from: number) => logged.slice(from).map((line) => line.replace(/^\S+ /, "").trimEnd());

const SMALL: PublicPortLimits = { maxFrameBytes: 600, maxPendingBytes: 1_000, maxConnections: 3, frameDeadlineMs: 300 };
const IN_PROCESS_PORT = 23_000;

describe("PublicPort, in-process with small limits", () => {
  test("PublicPort closes a connection past the cap as it opens, and serves a new one once another closed", async () => {
    const { publicPort, stop } = servePort(IN_PROCESS_PORT, SMALL);
    const connections = await Promise.all([1, 2, 3, 4].map(() => openRaw(IN_PROCESS_PORT)));
    try {
      expect(await connections[3]!.closedWithin(1_000)).toBe(true);
      expect(connections.slice(0, 3).map((connection) => connection.closed())).toEqual([false, false, false]);
      expect(publicPort.figures()).toMatchObject({ connections: 3, refusedConnections: 1 });
      connections[0]!.end();
      await Bun.sleep(50);
      const next = await openRaw(IN_PROCESS_PORT);
      connections.push(next);
      next.write(frame(20));
      await next.settle(20, 1_000);
      expect([next.answers.has(20), next.closed()]).toEqual([true, false]);
      expect(publicPort.figures()).toMatchObject({ connections: 3, refusedConnections: 1 });
    } finally {
      for (const connection of connections) connection.end();
      stop();
    }
  });

  test("PublicPort closes the connection whose frame began first when the frames not yet whole pass the cap at the sizes their prefixes give, and only it", async () => {
    const { publicPort, stop } = servePort(IN_PROCESS_PORT + 1, { ...SMALL, maxConnections: 10 });
    const connections = await Promise.all([1, 2, 3, 4].map(() => openRaw(IN_PROCESS_PORT + 1)));
    const [first, second, third, fourth] = connections as [RawConnection, RawConnection, RawConnection, RawConnection];
    try {
      for (const connection of [first, second, third]) {
        connection.write(frame(300, 204));
        await Bun.sleep(30);
      }
      expect(publicPort.figures()).toMatchObject({ heldBytes: 612, pendingBytes: 912, closedOverPendingBytes: 0 });
      // 10 bytes of a frame of 304 more: 1,216 bytes pending, past the cap of 1,000.
      fourth.write(frame(300, 10));
      expect(await first.closedWithin(1_000)).toBe(true);
      expect([second.closed(), third.closed(), fourth.closed()]).toEqual([false, false, false]);
      expect(publicPort.figures()).toMatchObject({ connections: 3, heldBytes: 418, pendingBytes: 912, closedOverPendingBytes: 1 });
    } finally {
      for (const connection of connections) connection.end();
      stop();
    }
  });

  test("PublicPort closes a frame not whole within its deadline and a connection that sends no request, and leaves one idle between whole requests open", async () => {
    const from = logged.length;
    const { publicPort, stop } = servePort(IN_PROCESS_PORT + 2, SMALL);
    const [cut, silent, idle] = await Promise.all([1, 2, 3].map(() => openRaw(IN_PROCESS_PORT + 2)));
    try {
      cut!.write(frame(100, 50));
      idle!.write(frame(100));
      await idle!.settle(100, 1_000);
      expect(idle!.answers.has(100)).toBe(true);
      expect(await cut!.closedWithin(1_000)).toBe(true);
      expect(await silent!.closedWithin(1_000)).toBe(true);
      await Bun.sleep(SMALL.frameDeadlineMs * 2);
      expect(idle!.closed()).toBe(false);
      expect(publicPort.figures()).toMatchObject({ connections: 1, heldBytes: 0, closedPastDeadline: 2 });
      expect(loggedSince(from).sort()).toEqual([
        "closed a Fluvio client connection from 127.0.0.1: it sent no request within 300 ms of opening",
        "closed a Fluvio client connection from 127.0.0.1: its frame was not whole within 300 ms (50 bytes so far)",
      ]);
    } finally {
      for (const connection of [cut!, silent!, idle!]) connection.end();
      stop();
    }
  });

  test("PublicPort closes a connection whose size prefix passes the largest frame before holding any of it", async () => {
    const { publicPort, stop } = servePort(IN_PROCESS_PORT + 3, SMALL);
    const connection = await openRaw(IN_PROCESS_PORT + 3);
    try {
      connection.write(frame(601, 104));
      expect(await connection.closedWithin(1_000)).toBe(true);
      expect(publicPort.figures()).toMatchObject({ connections: 0, heldBytes: 0 });
    } finally {
      connection.end();
      stop();
    }
  });
});
