import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ScServer } from "../../../lib/engine/servers/sc-server.ts";
import { makeSpuObject, MetadataStore, spuObjectName } from "../../../lib/engine/control-plane/store.ts";
import { setLogSink } from "../../../lib/engine/daemon/log.ts";
import { SpuServer } from "../../../lib/engine/servers/spu-server.ts";
import { batchOf, valuesOf } from "../../batches.ts";

// Ports 27900-27999: this file's block.
const BASE = 27_900;
const HOST = "127.0.0.1";
const TOKEN = "in-process-test-token";

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
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; log:\n${logged.join("")}`);
    await Bun.sleep(5);
  }
}

describe("the engine in-process", () => {
  test("an ScServer and an SpuServer started in the test process place a topic, and the SPU's replica takes and serves records", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cluster-in-process-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const ports = { publicPort: BASE + 10, privatePort: BASE + 11 };
    new MetadataStore(join(dir, "metadata")).put("SPU", spuObjectName(5001), makeSpuObject(5001, HOST, ports));

    const sc = new ScServer({
      token: TOKEN,
      metadataDir: join(dir, "metadata"),
      publicAddress: { host: HOST, port: BASE + 3 },
      privateAddress: { host: HOST, port: BASE + 4 },
    });
    cleanups.push(() => sc.stop());
    const spu = new SpuServer({
      id: 5001,
      token: TOKEN,
      dataDir: join(dir, "data"),
      publicAddress: { host: HOST, port: ports.publicPort },
      privateAddress: { host: HOST, port: ports.privatePort },
      scAddress: { host: HOST, port: BASE + 4 },
    });
    cleanups.push(() => spu.stop());

    await until("SPU 5001 online", () => (sc.controller.isOnline(5001) && spu.scConnected ? true : undefined));
    expect(sc.controller.listSpus().map((view) => [view.spec.spuId, view.status.resolution])).toEqual([[5001, "Online"]]);

    sc.controller.createTopic({ name: "in-process", partitions: 1, replication: 1 });
    const replica = await until("the replica of 'in-process-0' to lead", () => {
      const found = spu.replicas.get("in-process", 0);
      return found?.isLeader ? found : undefined;
    });
    expect(await replica.produce(batchOf(["a", "b", "c"]))).toEqual({ baseOffset: 0, lastOffset: 2 });
    const read = await replica.consume(0, { maxBytes: 1 << 20, waitMs: 0 });
    expect(valuesOf(read.bytes)).toEqual(["a", "b", "c"]);
    await until("the SC to hear the leader's report", () => (sc.controller.listPartitions("in-process")[0]?.endOffset === 3 ? true : undefined));
    expect(logged.join("")).toContain("SPU 5001 online");
  });
});
