/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of Kafka-style record
 * batches; Fluvio computes it with the crc32c crate (fluvio-protocol src/record/batch.rs).
 * It runs on every produced, replicated and fetched batch, so a range of NATIVE_FROM bytes or
 * more goes to @node-rs/crc32 (the CPU's CRC-32C instruction, several times faster); shorter
 * ones, and every range where that package does not load, take slicing-by-8 over eight
 * 256-entry tables.
 */

const POLYNOMIAL = 0x82f63b78;

/** Below this many bytes the native call costs more than it saves. */
const NATIVE_FROM = 512;

type NativeCrc32c = (input: Uint8Array, initialState?: number) => number;
let native: NativeCrc32c | null | undefined;

/** The native CRC-32C, or null where @node-rs/crc32 has no build for this platform. */
function loadNative(): NativeCrc32c | null {
  try {
    return (require("@node-rs/crc32") as { crc32c: NativeCrc32c }).crc32c;
  } catch {
    return null;
  }
}

/** Eight tables in one array: table k at [k * 256, k * 256 + 256). */
const TABLES = buildTables();

function buildTables(): Int32Array {
  const tables = new Int32Array(8 * 256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ POLYNOMIAL : crc >>> 1;
    tables[byte] = crc;
  }
  for (let byte = 0; byte < 256; byte++) {
    let crc = tables[byte]!;
    for (let table = 1; table < 8; table++) {
      crc = (crc >>> 8) ^ tables[crc & 0xff]!;
      tables[table * 256 + byte] = crc;
    }
  }
  return tables;
}

/** The CRC-32C of bytes [start, end) of `data`, as an unsigned 32-bit number. */
export function crc32c(data: Uint8Array, start = 0, end = data.byteLength): number {
  if (end - start >= NATIVE_FROM) {
    native ??= loadNative();
    if (native) return native(data.subarray(start, end)) >>> 0;
  }
  const t = TABLES;
  let crc = -1;
  let position = start;
  const fastEnd = end - ((end - start) & 7);
  while (position < fastEnd) {
    crc ^= data[position]! | (data[position + 1]! << 8) | (data[position + 2]! << 16) | (data[position + 3]! << 24);
    crc =
      t[1792 + (crc & 0xff)]! ^
      t[1536 + ((crc >>> 8) & 0xff)]! ^
      t[1280 + ((crc >>> 16) & 0xff)]! ^
      t[1024 + (crc >>> 24)]! ^
      t[768 + data[position + 4]!]! ^
      t[512 + data[position + 5]!]! ^
      t[256 + data[position + 6]!]! ^
      t[data[position + 7]!]!;
    position += 8;
  }
  while (position < end) crc = (crc >>> 8) ^ t[(crc ^ data[position++]!) & 0xff]!;
  return ~crc >>> 0;
}
