/**
 * Record batches for tests of the data path: a batch of plain values as Fluvio's producer
 * builds one, and the values of stored batches back (compressed ones too).
 */
import { decodeBatches, encodeRecords } from "../lib/engine/wire/fluvio/record-batch.ts";

/** One batch of `values` (strings are UTF-8), no keys, base offset 0 (the log sets it). */
export function batchOf(values: readonly (string | Uint8Array)[]): Uint8Array {
  return encodeRecords(
    values.map((value) => ({ attributes: 0, timestampDelta: 0, key: null, value: typeof value === "string" ? Buffer.from(value) : value })),
    { baseOffset: 0, firstTimestamp: -1 },
  );
}

/** The values of the records in `batches` at offset `from` or later, as text. */
export function valuesOf(batches: Uint8Array, from = 0): string[] {
  const values: string[] = [];
  for (const batch of decodeBatches(batches)) {
    for (const record of batch.records) if (batch.baseOffset + record.offsetDelta >= from) values.push(Buffer.from(record.value).toString());
  }
  return values;
}
