/**
 * Benchmark of the SPU partition log: appends 1,000,000 records of 100 bytes
 * in batches of 1000 (without and with an fsync per batch, the SPU's policy
 * before acknowledging) and reads them all back as slices of whole batches,
 * printing records/s and MB/s.
 *
 * Run with `bun bench/partition-log.ts`.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openPartitionLog } from "../lib/engine/storage/partition-log.ts";
import { encodeRecords } from "../lib/engine/wire/fluvio/record-batch.ts";

const RECORDS = 1_000_000;
const VALUE_BYTES = 100;
const BATCH_RECORDS = 1000;
const READ_MAX_BYTES = 1024 * 1024;

/** Prints one result line; MB/s counts value bytes only, so framing overhead shows as a cost. */
function report(label: string, records: number, millis: number): void {
  const perSecond = (records / millis) * 1000;
  const megabytes = (perSecond * VALUE_BYTES) / 1e6;
  console.log(`${label.padEnd(28)} ${millis.toFixed(0).padStart(6)} ms  ${Math.round(perSecond).toLocaleString("en-US").padStart(11)} records/s  ${megabytes.toFixed(1).padStart(7)} MB/s`);
}

function run(syncEachBatch: boolean): void {
  const dir = mkdtempSync(join(tmpdir(), "partition-log-bench-"));
  try {
    const log = openPartitionLog(dir);
    // Distinct batches, built before timing so only the log is measured
    const batches = Array.from({ length: RECORDS / BATCH_RECORDS }, (_, b) =>
      encodeRecords(
        Array.from({ length: BATCH_RECORDS }, (_, i) => ({ attributes: 0, timestampDelta: 0, key: null, value: new Uint8Array(VALUE_BYTES).fill((b + i) & 0xff) })),
        { baseOffset: 0, firstTimestamp: Date.now() },
      ),
    );
    const batchBytes = batches.reduce((sum, batch) => sum + batch.byteLength, 0);

    let start = performance.now();
    for (const batch of batches) {
      log.append(batch);
      if (syncEachBatch) log.sync();
    }
    report(syncEachBatch ? "append + fsync per batch" : "append (no fsync)", RECORDS, performance.now() - start);

    start = performance.now();
    let next = 0;
    let bytes = 0;
    while (next < log.endOffset) {
      const slice = log.read(next, { maxBytes: READ_MAX_BYTES });
      bytes += slice.bytes.byteLength;
      next = slice.nextOffset;
    }
    report("read from offset 0", next, performance.now() - start);
    if (bytes !== batchBytes) throw new Error(`read ${bytes} bytes of batches, expected ${batchBytes}`);
    if (log.sizeBytes() !== batchBytes) throw new Error(`log holds ${log.sizeBytes()} bytes`);
    log.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

run(false);
run(true);
