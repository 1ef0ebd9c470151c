/**
 * Fluvio's Python client (PyPI fluvio 0.21.0, Fluvio 0.17.3's protocol) against a cluster the
 * CLI made, each step a small script of tests/python/ run by the checkout's virtual
 * environment: topics created with settings, records produced with each compression the client
 * offers and consumed back, topics and partitions listed, and all of it again after a shutdown
 * and resume, with nothing acknowledged lost; a named consumer going on from its committed
 * offset across a restart, its offsets listed and deleted. `.ci/run` makes the environment; without it these
 * tests are skipped, saying so.
 */
import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { clusterPaths } from "../../lib/cluster/home.ts";
import { openPartitionLog } from "../../lib/engine/storage/partition-log.ts";
import { decodeBatches } from "../../lib/engine/wire/fluvio/record-batch.ts";
import { ok, pollUntil } from "../cluster-data.ts";
import { cli, portBlocks, tempHome } from "../helpers.ts";

const nextPortBase = portBlocks(31000);
const PYTHON = join(import.meta.dir, "..", "..", ".venv", "bin", "python");
const SCRIPT = join(import.meta.dir, "..", "python", "fluvio_client.py");
const VENV_COMMAND = "python3 -m venv .venv && .venv/bin/pip install fluvio==0.21.0";
const hasClient = existsSync(PYTHON);
if (!hasClient) console.warn(`skipping the Python client tests: no .venv in the checkout; '.ci/run' makes it (or run '${VENV_COMMAND}')`);

const TEST_TIMEOUT_MS = 120_000;
/** The codecs Fluvio's Python producer offers (its Compression attributes), with each one's attributes bits. */
const CODECS = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 } as const;
const PER_CODEC = 20;

/** Runs one step of tests/python/fluvio_client.py against `endpoint`; throws with its stderr unless it exits 0. */
async function python(endpoint: string, ...args: string[]): Promise<any> {
  const child = Bun.spawn([PYTHON, SCRIPT, endpoint, ...args], { stdout: "pipe", stderr: "pipe", env: { ...process.env, RUST_LOG: "off" } });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  if (exitCode !== 0) throw new Error(`fluvio_client.py ${args.join(" ")} exited ${exitCode}: ${stderr}`);
  return JSON.parse(stdout);
}

/** Every record of both partitions of `topic`, as [partition, offset, value], through the Python consumer. */
async function consumeAll(endpoint: string, topic: string, partitions: number): Promise<[number, number, string][]> {
  const all: [number, number, string][] = [];
  for (let partition = 0; partition < partitions; partition++) {
    const { records } = await python(endpoint, "consume", topic, String(partition));
    for (const [offset, value] of records as [number, string][]) all.push([partition, offset, value]);
  }
  return all;
}

describe.skipIf(!hasClient)("Fluvio's Python client 0.21.0", () => {
  test(
    "creates topics with settings, produces with every compression it offers, consumes, lists topics and partitions, and does it all again after a shutdown and resume, losing nothing acknowledged",
    async () => {
      const home = tempHome();
      await ok(home, ["create", "--spus", "2", "--port-base", String(nextPortBase())]);
      const endpoint = (await ok(home, ["status", "--json"])).json.endpoint;

      await python(endpoint, "create", "py-config", "1", "3600", "10 MiB", "100 MiB", "gzip");
      await python(endpoint, "create", "py-codecs", "2");
      const listed = (await ok(home, ["topic", "list", "--json"])).json;
      expect(listed).toMatchObject([
        { name: "py-codecs", partitions: 2, retentionSeconds: null, segmentSize: null, maxPartitionSize: null, compressionType: "any" },
        { name: "py-config", partitions: 1, retentionSeconds: 3600, segmentSize: 10 * 2 ** 20, maxPartitionSize: 100 * 2 ** 20, compressionType: "gzip" },
      ]);

      const acknowledged: [number, number, string][] = [];
      for (const codec of Object.keys(CODECS)) {
        const { offsets } = await python(endpoint, "produce", "py-codecs", codec, codec, String(PER_CODEC));
        (offsets as [number, number][]).forEach(([partition, offset], index) => acknowledged.push([partition, offset, `${codec}-${index}`]));
      }
      const { offsets: gzipped } = await python(endpoint, "produce", "py-config", "gzip", "kept", "5");
      expect(gzipped).toEqual([0, 1, 2, 3, 4].map((offset) => [0, offset]));
      const byPlace = (a: [number, number, string], b: [number, number, string]) => a[0] - b[0] || a[1] - b[1];
      acknowledged.sort(byPlace);

      const consumed = await consumeAll(endpoint, "py-codecs", 2);
      expect(consumed.toSorted(byPlace)).toEqual(acknowledged);
      // The CLI reads what the Python producer compressed, as any Fluvio consumer would.
      for (const partition of [0, 1]) {
        const printed = (await ok(home, ["consume", "py-codecs", "-B", "-d", "--partition", String(partition)])).stdout;
        const lines = printed === "" ? [] : printed.trimEnd().split("\n");
        expect(lines).toEqual(acknowledged.filter(([p]) => p === partition).map(([, , value]) => value));
      }
      expect(await python(endpoint, "list")).toEqual({ topics: ["py-codecs", "py-config"], partitions: ["py-codecs-0", "py-codecs-1", "py-config-0"] });

      await ok(home, ["shutdown"]);
      // Stored as produced: every codec's batches are on disk compressed with it.
      const status = (await cli(home, ["status", "--json"])).json;
      const codecsOnDisk = new Set<number>();
      for (const partition of status.partitions.filter((entry: any) => entry.topic === "py-codecs")) {
        const log = openPartitionLog(join(clusterPaths(home, "local").data, `spu-${partition.leader}`, `py-codecs-${partition.partition}`));
        try {
          for (let offset = log.startOffset; offset < log.endOffset; ) {
            const slice = log.read(offset, { maxBytes: 1 << 20 });
            for (const batch of decodeBatches(slice.bytes)) codecsOnDisk.add(batch.attributes & 7);
            offset = slice.nextOffset;
          }
        } finally {
          log.close();
        }
      }
      expect([...codecsOnDisk].sort()).toEqual(Object.values(CODECS));

      await ok(home, ["resume"]);
      expect((await consumeAll(endpoint, "py-codecs", 2)).toSorted(byPlace)).toEqual(acknowledged);
      expect((await python(endpoint, "consume", "py-config", "0")).records).toEqual([0, 1, 2, 3, 4].map((offset) => [offset, `kept-${offset}`]));
      expect(await python(endpoint, "list")).toEqual({ topics: ["py-codecs", "py-config"], partitions: ["py-codecs-0", "py-codecs-1", "py-config-0"] });
      const { offsets: more } = await python(endpoint, "produce", "py-codecs", "zstd", "after", "4");
      (more as [number, number][]).forEach(([partition, offset], index) => acknowledged.push([partition, offset, `after-${index}`]));
      expect((await consumeAll(endpoint, "py-codecs", 2)).toSorted(byPlace)).toEqual(acknowledged.toSorted(byPlace));
      expect((await ok(home, ["topic", "list", "--json"])).json).toMatchObject(listed);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "after retention deleted a segment, the client's stream from the beginning starts at the oldest record kept, and one from below it fails with Fluvio's OffsetEvicted",
    async () => {
      const home = tempHome();
      await ok(home, ["create", "--spus", "1", "--port-base", String(nextPortBase())]);
      const endpoint = (await ok(home, ["status", "--json"])).json.endpoint;
      await python(endpoint, "create", "py-short", "1", "10", "1 KiB");
      // One run of the producer is one batch of about 400 bytes: two fill a segment.
      for (const index of [0, 1, 2, 3]) await python(endpoint, "produce", "py-short", "none", `${index}`.padEnd(400, "."), "1");
      await pollUntil(
        "retention to delete segment 0",
        async () => (await python(endpoint, "consume", "py-short", "0")).records.map(([offset]: [number]) => offset),
        (offsets) => offsets[0] === 2,
      );
      expect((await python(endpoint, "consume", "py-short", "0")).records.map(([offset]: [number]) => offset)).toEqual([2, 3]);
      const below = await python(endpoint, "consume-from", "py-short", "0", "0").then(
        () => "",
        (error: Error) => error.message,
      );
      expect(below).toContain("Offset 0 is evicted. The next available is 2");
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "a named consumer goes on from the offset it committed, across a shutdown and resume; its offsets are listed and deleted as the client asks",
    async () => {
      const home = tempHome();
      await ok(home, ["create", "--spus", "3", "--port-base", String(nextPortBase())]);
      const endpoint = (await ok(home, ["status", "--json"])).json.endpoint;
      await python(endpoint, "create", "py-offsets", "3");
      // Over three partitions of three SPUs, at least two streams are served by an SPU that does not keep the offsets.
      for (const partition of [0, 1, 2]) await ok(home, ["produce", "py-offsets", "--partition", String(partition)], "r0\nr1\nr2\nr3\nr4\nr5\n");
      const read = async (partition: number, count: number) =>
        ((await python(endpoint, "offset-consume", "py-offsets", String(partition), "py-reader", String(count))).records as [number, string][]).map(([offset]) => offset);

      for (const partition of [0, 1, 2]) expect(await read(partition, 2)).toEqual([0, 1]);
      for (const partition of [0, 1, 2]) expect(await read(partition, 2)).toEqual([2, 3]);
      const listed = (await python(endpoint, "consumer-offsets")).offsets as [string, string, number, number, number][];
      expect(listed.map(([consumer, topic, partition, offset]) => [consumer, topic, partition, offset])).toEqual([0, 1, 2].map((partition) => ["py-reader", "py-offsets", partition, 3]));
      for (const [, , , , modified] of listed) expect(Math.abs(modified - Date.now() / 1000)).toBeLessThan(120);

      await ok(home, ["shutdown"]);
      await ok(home, ["resume"]);
      for (const partition of [0, 1, 2]) expect(await read(partition, 2)).toEqual([4, 5]);

      await python(endpoint, "delete-consumer-offset", "py-reader", "py-offsets", "1");
      expect(((await python(endpoint, "consumer-offsets")).offsets as unknown[][]).map(([, , partition, offset]) => [partition, offset])).toEqual([[0, 5], [2, 5]]);
      expect(await read(1, 1)).toEqual([0]);
    },
    TEST_TIMEOUT_MS,
  );
});
