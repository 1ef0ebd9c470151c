/**
 * How fast the Fluvio codec handles records on the data path, in-process (no sockets): building
 * batches of 100-byte records with 8-byte keys as the CLI producer will, the SPU's check of a
 * produce (scanBatches: framing and CRC-32C, no record decode), decoding records as a consumer
 * does, and raw CRC-32C throughput.
 *
 * Run with `bun bench/fluvio-codec.ts [records] [records-per-batch]`.
 */
import { crc32c } from "../lib/engine/wire/fluvio/crc32c.ts";
import { decodeBatches, encodeBatches, recordBatch, scanBatches } from "../lib/engine/wire/fluvio/record-batch.ts";

const RECORDS = Number(process.argv[2] ?? 500_000);
const PER_BATCH = Number(process.argv[3] ?? 1000);
const ROUNDS = 3;

const value = new Uint8Array(100).fill(0x61);
const key = new Uint8Array(8).fill(0x6b);
const inputs = Array.from({ length: PER_BATCH }, (_, index) => ({ key, value, timestampDelta: index % 7 }));

function rate(count: number, milliseconds: number): string {
  return `${Math.round((count / milliseconds) * 1000).toLocaleString("en-US")}/s`;
}

for (let round = 1; round <= ROUNDS; round++) {
  let started = performance.now();
  const encoded: Uint8Array[] = [];
  for (let sent = 0; sent < RECORDS; sent += PER_BATCH) {
    // Each batch is copied out, as a producer hands it to a socket and reuses nothing.
    encoded.push(new Uint8Array(encodeBatches([recordBatch(inputs, { firstTimestamp: Date.now() })])));
  }
  const encodeMs = performance.now() - started;
  const stream = Buffer.concat(encoded);

  started = performance.now();
  const scanned = scanBatches(stream).reduce((sum, batch) => sum + batch.recordCount, 0);
  const scanMs = performance.now() - started;

  started = performance.now();
  let decoded = 0;
  for (const batch of decodeBatches(stream)) decoded += batch.records.length;
  const decodeMs = performance.now() - started;

  started = performance.now();
  crc32c(stream);
  const crcMs = performance.now() - started;

  if (scanned !== encoded.length * PER_BATCH || decoded !== scanned) throw new Error(`counted ${scanned} and ${decoded} records`);
  console.log(
    `round ${round}: ${scanned.toLocaleString("en-US")} records (${(stream.length / 2 ** 20).toFixed(1)} MiB): ` +
      `encode ${rate(scanned, encodeMs)}, scan ${rate(scanned, scanMs)}, decode ${rate(scanned, decodeMs)} records; ` +
      `crc32c ${((stream.length / 2 ** 20 / crcMs) * 1000).toFixed(0)} MiB/s`,
  );
}
