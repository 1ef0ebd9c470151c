/**
 * Junk on the private ports, end to end with real processes: random bytes, a length prefix
 * past the limit, a frame that never completes, a frame whose header is not JSON, sent to the
 * SC's private port (where SPUs hold their sessions) and to an SPU's (where followers fetch).
 * The promise: each bad connection is closed alone, and no real session notices; leaders, their
 * epochs and the in-sync sets do not move, and producing goes on.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { clusterPaths, logFileOf } from "../../lib/cluster/home.ts";
import { portLayout } from "../../lib/cluster/spec.ts";
import { ok } from "../cluster-data.ts";
import { portBlocks, tempHome } from "../helpers.ts";

const nextPortBase = portBlocks(28400);

/** How long the cluster is watched after the junk: past the SC's 3 s session timeout and two of Bun's 4 s timeout sweeps. */
const WATCH_MS = 9_000;

/** A frame prefix (u32 length, u32 header length) followed by `rest`. */
function framed(length: number, headerLength: number, rest: Uint8Array): Uint8Array {
  const bytes = Buffer.alloc(8 + rest.length);
  bytes.writeUInt32BE(length, 0);
  bytes.writeUInt32BE(headerLength, 4);
  bytes.set(rest, 8);
  return bytes;
}

/** The kinds of junk, each sent on a connection of its own and then held open. */
const JUNK: [string, Uint8Array][] = [
  ["random bytes", crypto.getRandomValues(new Uint8Array(4_096))],
  ["a length prefix past the 64 MiB limit", framed(0xffff_fff0, 8, Buffer.from("whatever"))],
  ["a 48 MiB frame that never completes", framed(48 * 1024 * 1024, 16, Buffer.from('{"type":"hello",'))],
  ["a truncated frame held open", framed(200, 20, Buffer.from('{"type":"hel'))],
  ["a header that is not JSON", framed(4 + 9, 9, Buffer.from("{not json"))],
];

/** Opens one connection per kind of junk to `port`, sends it and holds it open; resolves with whether the peer has closed each. */
async function sendJunk(port: number): Promise<{ port: number; kind: string; closed: () => boolean; end: () => void }[]> {
  return Promise.all(
    JUNK.map(async ([kind, bytes]) => {
      let closed = false;
      const socket = await Bun.connect({
        hostname: "127.0.0.1",
        port,
        socket: { data() {}, close: () => void (closed = true), error() {} },
      });
      socket.write(bytes);
      return { port, kind, closed: () => closed, end: () => socket.terminate() };
    }),
  );
}

function logLines(home: string, component: string): string[] {
  return readFileSync(logFileOf(clusterPaths(home, "local"), component), "utf8").split("\n").filter(Boolean);
}

describe("junk on the private ports of a replication-3 cluster", () => {
  test("each bad connection is closed alone: no SPU session drops, no leader or epoch or in-sync set moves, and producing goes on", async () => {
    const home = tempHome();
    const base = nextPortBase();
    await ok(home, ["create", "--spus", "3", "--port-base", String(base)]);
    await ok(home, ["topic", "create", "steady", "--replication", "3"]);
    await ok(home, ["produce", "steady"], "before\n");
    const before = (await ok(home, ["status", "--json"])).json.partitions[0];
    expect(before).toMatchObject({ leaderEpoch: 0, isr: [5001, 5002, 5003], online: true });
    const scLogFrom = logLines(home, "sc").length;
    const spuLogFrom = logLines(home, `spu-${before.leader}`).length;

    const layout = portLayout(base, 3);
    const leaderPrivatePort = layout.spus.find((spu) => spu.id === before.leader)!.privatePort;
    const junk = [...(await sendJunk(layout.sc.privatePort)), ...(await sendJunk(leaderPrivatePort))];
    let produced;
    let leftOpen: string[];
    try {
      await Bun.sleep(WATCH_MS / 2);
      produced = await ok(home, ["produce", "steady", "--json"], "during\n");
      await Bun.sleep(WATCH_MS / 2);
      leftOpen = junk.filter((connection) => !connection.closed()).map((connection) => `${connection.port}: ${connection.kind}`);
    } finally {
      for (const connection of junk) connection.end();
    }

    const after = (await ok(home, ["status", "--json"])).json.partitions[0];
    expect(after).toMatchObject({ leader: before.leader, leaderEpoch: 0, isr: [5001, 5002, 5003], online: true, highWatermark: 2 });
    expect(produced.json.records).toBe(1);
    const scLog = logLines(home, "sc").slice(scLogFrom);
    expect(scLog.filter((line) => /SPU \d+ (offline|sent nothing)|elected|in-sync set|no leader/.test(line))).toEqual([]);
    // Every bad connection was closed, by the SC and by the SPU: at once for a bad frame, at the hello deadline for one that never completes.
    expect(leftOpen).toEqual([]);
    expect(scLog.filter((line) => line.includes("a connection from 127.0.0.1 sent nothing")).length).toBeGreaterThanOrEqual(2);
    const spuLog = logLines(home, `spu-${before.leader}`).slice(spuLogFrom);
    expect(spuLog.filter((line) => /lost SC|truncates/.test(line))).toEqual([]);
  }, 60_000);
});
