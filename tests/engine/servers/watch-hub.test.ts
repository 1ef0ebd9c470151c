/**
 * Fluvio's Watch on the SC's public port (wire/fluvio/watch-hub.ts), against an ScServer run in
 * the test process and raw Fluvio frames on real sockets: every object first, then only what
 * changed at a higher epoch, the same bytes for every watcher, and a watcher that stops
 * reading cut off while one that reads keeps up.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ScServer } from "../../../lib/engine/servers/sc-server.ts";
import { seedSpus } from "../../../lib/engine/control-plane/catalog.ts";
import { setLogSink } from "../../../lib/engine/daemon/log.ts";
import { SC_API_KEY, SC_OBJECT_VERSION } from "../../../lib/engine/wire/fluvio/api-keys.ts";
import { decodeResponse, encodeRequest, FrameSplitter, MIN_RESPONSE_BYTES } from "../../../lib/engine/wire/fluvio/framing.ts";
import { decodeWatchResponse, encodeWatchRequest, type WatchResponse } from "../../../lib/engine/wire/fluvio/object-api.ts";
import { WATCH_BACKLOG_BYTES } from "../../../lib/engine/servers/watch-hub.ts";

// Ports 23000-23099: this file's block.
const BASE = 23_000;
const HOST = "127.0.0.1";

const logged: string[] = [];
setLogSink((line) => logged.push(line));
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(5);
  }
}

/** An SC with SPU 5001 registered and marked online (no SPU process: only the control plane is under test). */
function startSc(): ScServer {
  const dir = mkdtempSync(join(tmpdir(), "cluster-watch-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  seedSpus(join(dir, "metadata"), { host: HOST, spus: [{ id: 5001, publicPort: BASE + 10, privatePort: BASE + 11 }] });
  const sc = new ScServer({
    token: "watch-test-token",
    metadataDir: join(dir, "metadata"),
    publicAddress: { host: HOST, port: BASE + 3 },
    privateAddress: { host: HOST, port: BASE + 4 },
  });
  cleanups.push(() => sc.stop());
  sc.controller.spuOnline(5001);
  return sc;
}

interface Watch {
  socket: Socket;
  answers: WatchResponse[];
  /** Each answer's bytes after its correlation id. */
  bodies: Buffer[];
  closed: boolean;
}

function watch(type: string, epoch = 0): Watch {
  const socket = connect({ host: HOST, port: BASE + 3 });
  const state: Watch = { socket, answers: [], bodies: [], closed: false };
  const splitter = new FrameSplitter({ minBytes: MIN_RESPONSE_BYTES, maxBytes: 64 * 1024 * 1024 });
  socket.on("data", (chunk) => {
    for (const payload of splitter.push(new Uint8Array(chunk as Buffer))) {
      const { body } = decodeResponse(payload);
      state.bodies.push(Buffer.from(payload.subarray(4)));
      state.answers.push(decodeWatchResponse(body, SC_OBJECT_VERSION));
    }
  });
  socket.on("close", () => (state.closed = true));
  socket.on("error", () => {});
  socket.write(
    encodeRequest({ apiKey: SC_API_KEY.watch, apiVersion: SC_OBJECT_VERSION, correlationId: 7, clientId: "watch-test" }, (writer) =>
      encodeWatchRequest(writer, { type, epoch, summary: false }, SC_OBJECT_VERSION),
    ),
  );
  cleanups.push(() => socket.destroy());
  return state;
}

/** The names of `items` but Fluvio's system topic, which the SC makes on its own and a watch carries too. */
const names = (items: { name: string }[]) =>
  items
    .map((item) => item.name)
    .filter((name) => !name.startsWith("consumer-offset"))
    .sort();

describe("the SC's Watch", () => {
  test("a watcher gets every object first, then only what changed at a higher epoch (UPDATE, DELETE), as every other watcher does, byte for byte", async () => {
    const sc = startSc();
    await sc.controller.createTopic({ name: "a", partitions: 3, replication: 1 });
    const first = watch("Partition");
    const second = watch("Partition");
    await until("both snapshots", () => (first.answers.length && second.answers.length ? true : undefined));
    expect(first.answers[0]).toMatchObject({ changes: [] });
    expect(names(first.answers[0]!.all)).toEqual(["a-0", "a-1", "a-2"]);

    await sc.controller.createTopic({ name: "b", partitions: 2, replication: 1 });
    await until("the new partitions", () => (first.answers.length > 1 && second.answers.length > 1 ? true : undefined));
    const created = first.answers[1]!;
    expect(created.all).toEqual([]);
    expect(created.epoch).toBeGreaterThan(first.answers[0]!.epoch);
    expect(created.changes.map((change) => [change.msgType, change.metadata.name]).sort()).toEqual([
      ["UPDATE", "b-0"],
      ["UPDATE", "b-1"],
    ]);
    expect(second.bodies[1]!.equals(first.bodies[1]!)).toBe(true);

    await sc.controller.deleteTopic("a");
    const deleted = await until("the deletes", () => first.answers.find((answer) => answer.changes.some((change) => change.msgType === "DELETE")));
    expect(deleted.changes.map((change) => [change.msgType, change.metadata.name]).sort()).toEqual([
      ["DELETE", "a-0"],
      ["DELETE", "a-1"],
      ["DELETE", "a-2"],
    ]);

    // One that resumes from the epoch after 'b' was created gets just what changed since.
    const resumed = watch("Partition", created.epoch);
    const since = await until("changes since the epoch", () => resumed.answers[0]);
    expect(since.all).toEqual([]);
    expect(since.changes.map((change) => [change.msgType, change.metadata.name]).sort()).toEqual(deleted.changes.map((change) => [change.msgType, change.metadata.name]).sort());
    const late = watch("Topic");
    expect(names((await until("the topics", () => late.answers[0])).all)).toEqual(["b"]);
  });

  test("a watcher that stops reading is cut off once it leaves the bound unread; a watcher that reads keeps up", async () => {
    const sc = startSc();
    await sc.controller.createTopic({ name: "wide", partitions: 1000, replication: 1 });
    const reading = watch("Partition");
    const stalled = watch("Partition");
    await until("both snapshots", () => (reading.answers.length && stalled.answers.length ? true : undefined));
    stalled.socket.pause();
    const partitions = sc.controller.listPartitions("wide");
    let sent = 0;
    for (let round = 1; round <= 400 && !stalled.closed; round++) {
      sc.controller.recordReport(
        5001,
        partitions.map((partition) => ({ topic: "wide", partition: partition.partition, leaderEpoch: partition.leaderEpoch, isLeader: true, endOffset: round, highWatermark: round, sizeBytes: round, highWatermarkKnown: true })),
      );
      sent = round;
      await Bun.sleep(12);
      if (logged.some((line) => line.includes("cut off a Fluvio client"))) break;
    }
    const cut = await until("the stalled watcher cut off", () => logged.find((line) => line.includes("cut off a Fluvio client")));
    expect(cut).toContain(`the bound is ${WATCH_BACKLOG_BYTES}`);
    stalled.socket.resume();
    await until("the stalled watcher closed", () => (stalled.closed ? true : undefined));
    await Bun.sleep(50);
    expect(reading.closed).toBe(false);
    const last = reading.answers.at(-1)!;
    expect(last.changes.find((change) => change.metadata.name === "wide-0")?.metadata).toMatchObject({ name: "wide-0" });
    expect(sent).toBeGreaterThan(1);
  }, 30_000);
});
