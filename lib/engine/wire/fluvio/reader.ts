/**
 * A bounds-checked big-endian byte reader for Fluvio's wire format (fluvio-protocol
 * src/core/decoder.rs, src/core/varint.rs). Every read names what it reads, so an overrun or a
 * bad value throws a FluvioDecodeError saying what and at which byte, never a RangeError or a
 * silent zero. Counts are checked against the bytes that remain before anything is allocated.
 *
 * 64-bit integers come back as JS numbers; a value outside the safe integer range throws.
 * Byte fields come back as views into the input (no copy).
 */
import { FluvioDecodeError } from "./errors.ts";

const TWO_POW_32 = 0x1_0000_0000;
const UTF8 = new TextDecoder("utf-8", { fatal: true });

export class Reader {
  readonly bytes: Uint8Array;
  #view: DataView;
  /** Position of the next read, as an index into `bytes`. */
  offset: number;
  /** Index one past the last byte this reader may read. */
  readonly end: number;

  constructor(bytes: Uint8Array, start = 0, end = bytes.byteLength) {
    this.bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.offset = start;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.offset;
  }

  /** Throws unless `count` more bytes are there. */
  need(count: number, what: string): void {
    if (count > this.end - this.offset) {
      throw new FluvioDecodeError(what, this.offset, `needs ${count} byte(s), ${this.end - this.offset} remain`);
    }
  }

  u8(what = "u8"): number {
    this.need(1, what);
    return this.bytes[this.offset++]!;
  }

  i8(what = "i8"): number {
    this.need(1, what);
    return (this.bytes[this.offset++]! << 24) >> 24;
  }

  /** A bool byte: 0 or 1, anything else is malformed (as in Rust's decoder). */
  bool(what = "bool"): boolean {
    this.need(1, what);
    const value = this.bytes[this.offset]!;
    if (value > 1) throw new FluvioDecodeError(what, this.offset, `bool byte is ${value}, not 0 or 1`);
    this.offset++;
    return value === 1;
  }

  u16(what = "u16"): number {
    this.need(2, what);
    const value = this.#view.getUint16(this.offset);
    this.offset += 2;
    return value;
  }

  i16(what = "i16"): number {
    this.need(2, what);
    const value = this.#view.getInt16(this.offset);
    this.offset += 2;
    return value;
  }

  u32(what = "u32"): number {
    this.need(4, what);
    const value = this.#view.getUint32(this.offset);
    this.offset += 4;
    return value;
  }

  i32(what = "i32"): number {
    this.need(4, what);
    const value = this.#view.getInt32(this.offset);
    this.offset += 4;
    return value;
  }

  i64(what = "i64"): number {
    this.need(8, what);
    const high = this.#view.getInt32(this.offset);
    if (high < -0x20_0000 || high > 0x1f_ffff) {
      throw new FluvioDecodeError(what, this.offset, "value is outside the safe integer range");
    }
    const value = high * TWO_POW_32 + this.#view.getUint32(this.offset + 4);
    this.offset += 8;
    return value;
  }

  u64(what = "u64"): number {
    this.need(8, what);
    const high = this.#view.getUint32(this.offset);
    if (high > 0x1f_ffff) throw new FluvioDecodeError(what, this.offset, "value is outside the safe integer range");
    const value = high * TWO_POW_32 + this.#view.getUint32(this.offset + 4);
    this.offset += 8;
    return value;
  }

  /** A String: u16 byte length, then UTF-8 (invalid UTF-8 is malformed). */
  string(what = "string"): string {
    const length = this.u16(`${what} length`);
    this.need(length, what);
    const start = this.offset;
    this.offset += length;
    if (length === 0) return "";
    try {
      return UTF8.decode(this.bytes.subarray(start, start + length));
    } catch {
      throw new FluvioDecodeError(what, start, "bytes are not valid UTF-8");
    }
  }

  /** A fieldless enum variant from its u8 tag, an index into `variants`; an unknown tag is malformed. */
  variant<T extends string>(variants: readonly T[], what: string): T {
    const at = this.offset;
    const tag = this.u8(what);
    const value = variants[tag];
    if (value === undefined) throw new FluvioDecodeError(what, at, `unknown ${what} tag ${tag}`);
    return value;
  }

  /** Option<String>. */
  optionString(what = "string"): string | null {
    return this.bool(`${what} presence`) ? this.string(what) : null;
  }

  /** Option<T>: a presence byte, then the value read by `read`. */
  option<T>(what: string, read: (reader: Reader) => T): T | null {
    return this.bool(`${what} presence`) ? read(this) : null;
  }

  /**
   * A u32 item count, checked against what remains: each item takes at least
   * `minItemBytes`, so a count no frame can hold throws before anything is allocated.
   */
  count(what: string, minItemBytes = 1): number {
    const start = this.offset;
    const count = this.u32(`${what} count`);
    if (count * minItemBytes > this.end - this.offset) {
      throw new FluvioDecodeError(what, start, `count ${count} needs more than the ${this.end - this.offset} byte(s) that remain`);
    }
    return count;
  }

  /** Vec<T>: a checked u32 count, then each item read by `read`. */
  vec<T>(what: string, read: (reader: Reader) => T, minItemBytes = 1): T[] {
    const count = this.count(what, minItemBytes);
    const items = new Array<T>(count);
    for (let index = 0; index < count; index++) items[index] = read(this);
    return items;
  }

  /** BTreeMap<K, V>: a u16 count, then key and value pairs (a repeated key keeps the last value). */
  map<K, V>(what: string, readKey: (reader: Reader) => K, readValue: (reader: Reader) => V): Map<K, V> {
    const start = this.offset;
    const count = this.u16(`${what} count`);
    if (count * 2 > this.end - this.offset) {
      throw new FluvioDecodeError(what, start, `count ${count} needs more than the ${this.end - this.offset} byte(s) that remain`);
    }
    const map = new Map<K, V>();
    for (let index = 0; index < count; index++) {
      const key = readKey(this);
      map.set(key, readValue(this));
    }
    return map;
  }

  /** Vec<u8>: u32 length, then the bytes (a view into the input). */
  bytesField(what = "bytes"): Uint8Array {
    const length = this.u32(`${what} length`);
    return this.raw(length, what);
  }

  /** The next `length` bytes as a view into the input. */
  raw(length: number, what = "bytes"): Uint8Array {
    this.need(length, what);
    const start = this.offset;
    this.offset += length;
    return this.bytes.subarray(start, start + length);
  }

  /** A reader over the next `length` bytes; this reader moves past them. */
  sub(length: number, what: string): Reader {
    this.need(length, what);
    const start = this.offset;
    this.offset += length;
    return new Reader(this.bytes, start, start + length);
  }

  /** A zigzag varint (up to 10 bytes); the value must be a safe integer. */
  varint(what = "varint"): number {
    const bytes = this.bytes;
    const start = this.offset;
    const end = this.end;
    let position = start;
    // Fast path: up to 4 bytes is 28 bits of zigzag value, safe for bit operations.
    let result = 0;
    for (let shift = 0; shift < 28; shift += 7) {
      if (position >= end) throw new FluvioDecodeError(what, start, "varint runs past the end");
      const byte = bytes[position++]!;
      result |= (byte & 0x7f) << shift;
      if (byte < 0x80) {
        this.offset = position;
        return (result >>> 1) ^ -(result & 1);
      }
    }
    let zigzag = result;
    let multiplier = 2 ** 28;
    for (let index = 4; index < 10; index++) {
      if (position >= end) throw new FluvioDecodeError(what, start, "varint runs past the end");
      const byte = bytes[position++]!;
      zigzag += (byte & 0x7f) * multiplier;
      if (byte < 0x80) {
        if (zigzag > Number.MAX_SAFE_INTEGER) {
          throw new FluvioDecodeError(what, start, "varint is outside the safe integer range");
        }
        this.offset = position;
        return zigzag % 2 === 0 ? zigzag / 2 : -(zigzag + 1) / 2;
      }
      multiplier *= 0x80;
    }
    throw new FluvioDecodeError(what, start, "varint is longer than 10 bytes");
  }
}
