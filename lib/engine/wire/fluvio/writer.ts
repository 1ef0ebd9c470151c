/**
 * A growable big-endian byte writer for Fluvio's wire format (fluvio-protocol
 * src/core/encoder.rs, src/core/varint.rs): fixed-width integers, bool as one byte, String as a
 * u16 length and UTF-8, Option as a presence byte, Vec as a u32 count, BTreeMap as a u16 count
 * of key-sorted pairs, zigzag varints.
 *
 * 64-bit integers are JS numbers and must be safe integers (|n| < 2^53): offsets, timestamps
 * and epochs all are. Values out of a field's range throw FluvioEncodeError instead of wrapping.
 */
import { FluvioEncodeError } from "./errors.ts";

const TWO_POW_32 = 0x1_0000_0000;
/** Rust's String decoder reads the length as i16, so a longer string would not be read back. */
const MAX_STRING_BYTES = 0x7fff;

export class Writer {
  #buffer: Buffer;
  #view: DataView;
  /** Bytes written so far (the next write goes here). */
  length = 0;

  constructor(initialCapacity = 256) {
    this.#buffer = Buffer.allocUnsafe(initialCapacity);
    this.#view = new DataView(this.#buffer.buffer, this.#buffer.byteOffset, this.#buffer.byteLength);
  }

  /** The bytes written, as a view of the internal buffer (valid until the next write). */
  finish(): Buffer {
    return this.#buffer.subarray(0, this.length);
  }

  /** Makes room for `count` more bytes. */
  reserve(count: number): void {
    const needed = this.length + count;
    if (needed <= this.#buffer.byteLength) return;
    let capacity = this.#buffer.byteLength * 2;
    while (capacity < needed) capacity *= 2;
    const grown = Buffer.allocUnsafe(capacity);
    grown.set(this.#buffer.subarray(0, this.length));
    this.#buffer = grown;
    this.#view = new DataView(grown.buffer, grown.byteOffset, grown.byteLength);
  }

  u8(value: number): void {
    checkRange(value, 0, 0xff, "u8");
    this.reserve(1);
    this.#buffer[this.length++] = value;
  }

  i8(value: number): void {
    checkRange(value, -0x80, 0x7f, "i8");
    this.reserve(1);
    this.#buffer[this.length++] = value & 0xff;
  }

  bool(value: boolean): void {
    this.reserve(1);
    this.#buffer[this.length++] = value ? 1 : 0;
  }

  u16(value: number): void {
    checkRange(value, 0, 0xffff, "u16");
    this.reserve(2);
    this.#view.setUint16(this.length, value);
    this.length += 2;
  }

  i16(value: number): void {
    checkRange(value, -0x8000, 0x7fff, "i16");
    this.reserve(2);
    this.#view.setInt16(this.length, value);
    this.length += 2;
  }

  u32(value: number): void {
    checkRange(value, 0, 0xffff_ffff, "u32");
    this.reserve(4);
    this.#view.setUint32(this.length, value);
    this.length += 4;
  }

  i32(value: number): void {
    checkRange(value, -0x8000_0000, 0x7fff_ffff, "i32");
    this.reserve(4);
    this.#view.setInt32(this.length, value);
    this.length += 4;
  }

  /** A signed 64-bit integer from a safe JS integer. */
  i64(value: number): void {
    checkRange(value, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, "i64");
    this.#write64(value);
  }

  /** An unsigned 64-bit integer from a safe non-negative JS integer. */
  u64(value: number): void {
    checkRange(value, 0, Number.MAX_SAFE_INTEGER, "u64");
    this.#write64(value);
  }

  #write64(value: number): void {
    this.reserve(8);
    const high = Math.floor(value / TWO_POW_32);
    this.#view.setInt32(this.length, high);
    this.#view.setUint32(this.length + 4, value - high * TWO_POW_32);
    this.length += 8;
  }

  /** A String: u16 byte length, then UTF-8. */
  string(value: string): void {
    // A UTF-16 code unit never takes more than 3 bytes of UTF-8: write first, then the length.
    this.reserve(2 + value.length * 3);
    const written = this.#buffer.write(value, this.length + 2, "utf8");
    if (written > MAX_STRING_BYTES) {
      throw new FluvioEncodeError(`string of ${written} bytes is longer than the ${MAX_STRING_BYTES} a Fluvio peer reads`);
    }
    this.#view.setUint16(this.length, written);
    this.length += 2 + written;
  }

  /** A fieldless enum variant as its u8 tag, the variant's index in `variants`. */
  variant<T extends string>(variants: readonly T[], value: T): void {
    const tag = variants.indexOf(value);
    if (tag < 0) throw new FluvioEncodeError(`'${value}' is not one of ${variants.join(", ")}`);
    this.u8(tag);
  }

  /** Option<String>: a presence byte, then the string. */
  optionString(value: string | null): void {
    this.bool(value !== null);
    if (value !== null) this.string(value);
  }

  /** Option<T>: a presence byte, then the value written by `write`. */
  option<T>(value: T | null, write: (writer: Writer, value: T) => void): void {
    this.bool(value !== null);
    if (value !== null) write(this, value);
  }

  /** Vec<T>: u32 count, then each item written by `write`. */
  vec<T>(items: readonly T[], write: (writer: Writer, item: T) => void): void {
    this.u32(items.length);
    for (const item of items) write(this, item);
  }

  /**
   * BTreeMap<K, V>: u16 count, then key and value pairs in ascending key order (numbers
   * numerically, strings by their UTF-8 bytes), as Rust's BTreeMap iterates.
   */
  map<K extends number | string, V>(
    map: ReadonlyMap<K, V>,
    writeKey: (writer: Writer, key: K) => void,
    writeValue: (writer: Writer, value: V) => void,
  ): void {
    if (map.size > 0xffff) throw new FluvioEncodeError(`map of ${map.size} entries is more than a u16 count holds`);
    this.u16(map.size);
    for (const key of [...map.keys()].sort(compareKeys)) {
      writeKey(this, key);
      writeValue(this, map.get(key)!);
    }
  }

  /** Vec<u8>: u32 length, then the bytes. */
  bytes(value: Uint8Array): void {
    this.u32(value.byteLength);
    this.raw(value);
  }

  /** Bytes as they are, with no length. */
  raw(value: Uint8Array): void {
    this.reserve(value.byteLength);
    this.#buffer.set(value, this.length);
    this.length += value.byteLength;
  }

  /** A zigzag varint (Kafka and protobuf style: 7 bits a byte, low group first). */
  varint(value: number): void {
    this.reserve(10);
    this.length = writeVarint(this.#buffer, this.length, value);
  }

  /** Leaves room for an i32 to be filled in by `patchI32` (a length not yet known). */
  placeholderI32(): number {
    this.reserve(4);
    const position = this.length;
    this.length += 4;
    return position;
  }

  patchI32(position: number, value: number): void {
    checkRange(value, -0x8000_0000, 0x7fff_ffff, "i32");
    this.#view.setInt32(position, value);
  }

  patchU32(position: number, value: number): void {
    checkRange(value, 0, 0xffff_ffff, "u32");
    this.#view.setUint32(position, value);
  }
}

/** Bytes a zigzag varint of `value` takes. */
export function varintSize(value: number): number {
  let zigzag = zigzagEncode(value);
  let size = 1;
  while (zigzag >= 0x80) {
    zigzag = Math.floor(zigzag / 0x80);
    size++;
  }
  return size;
}

/** Writes a zigzag varint at `position` of `target` (room must be there); returns the end. */
export function writeVarint(target: Uint8Array, position: number, value: number): number {
  if (value >= -0x4000_0000 && value < 0x4000_0000 && Number.isInteger(value)) {
    // The zigzag value fits 31 bits: plain bit operations.
    let zigzag = (value << 1) ^ (value >> 31);
    while (zigzag >= 0x80) {
      target[position++] = (zigzag & 0x7f) | 0x80;
      zigzag >>>= 7;
    }
    target[position++] = zigzag;
    return position;
  }
  let zigzag = zigzagEncode(value);
  while (zigzag >= 0x80) {
    target[position++] = (zigzag % 0x80) | 0x80;
    zigzag = Math.floor(zigzag / 0x80);
  }
  target[position++] = zigzag;
  return position;
}

function zigzagEncode(value: number): number {
  checkRange(value, -(2 ** 52), 2 ** 52 - 1, "varint");
  return value >= 0 ? value * 2 : -value * 2 - 1;
}

function checkRange(value: number, min: number, max: number, type: string): void {
  if (!(Number.isInteger(value) && value >= min && value <= max)) {
    throw new FluvioEncodeError(`${value} is not a valid ${type}`);
  }
}

function compareKeys(a: number | string, b: number | string): number {
  if (typeof a === "number" && typeof b === "number") return a - b;
  return Buffer.compare(Buffer.from(String(a)), Buffer.from(String(b)));
}
