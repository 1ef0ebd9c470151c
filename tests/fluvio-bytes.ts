/**
 * Golden bytes for the Fluvio codec tests, written the way FLUVIO-WIRE.md writes captures:
 * hex groups, "quoted ASCII", and `|` as a visual separator, e.g. `0006 "fluvio" | 00000001`.
 */
import { Reader } from "../lib/engine/wire/fluvio/reader.ts";
import { Writer } from "../lib/engine/wire/fluvio/writer.ts";

export function bytes(spec: string): Uint8Array {
  const out: number[] = [];
  for (const token of spec.match(/"[^"]*"|[^\s|]+/g) ?? []) {
    if (token.startsWith('"')) {
      out.push(...Buffer.from(token.slice(1, -1), "utf8"));
      continue;
    }
    if (!/^([0-9a-fA-F]{2})+$/.test(token)) throw new Error(`bad hex token '${token}'`);
    for (let index = 0; index < token.length; index += 2) out.push(parseInt(token.slice(index, index + 2), 16));
  }
  return new Uint8Array(out);
}

/** Hex of bytes, for readable failure diffs. */
export function hex(value: Uint8Array): string {
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("hex");
}

/** The bytes `write` produces. */
export function encoded(write: (writer: Writer) => void): Uint8Array {
  const writer = new Writer(8);
  write(writer);
  return writer.finish();
}

/** Runs `read` over `input` and checks that it consumed every byte. */
export function decodedWhole<T>(input: Uint8Array, read: (reader: Reader) => T): T {
  const reader = new Reader(input);
  const value = read(reader);
  if (reader.remaining !== 0) throw new Error(`${reader.remaining} byte(s) left after decoding`);
  return value;
}
