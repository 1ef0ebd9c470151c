/**
 * Fluvio's messages declared as field tables, as the Rust derive declares them
 * (fluvio-protocol-derive: a struct's fields in order, each with an optional
 * `#[fluvio(min_version = N, max_version = M)]`): each field's name, type, and the versions it
 * is present in. One encode and one decode walk a table; a field outside its versions is not
 * on the wire and decodes as its `absent` value (Rust's default). Messages whose layout Fluvio
 * writes by hand (Produce, the object type buffer) keep hand-written functions, wrapped with
 * `codec` where a table holds them.
 */
import { FluvioDecodeError, FluvioEncodeError } from "./errors.ts";
import type { Reader } from "./reader.ts";
import type { Writer } from "./writer.ts";

/** How one type travels. `minBytes` is the fewest bytes it takes, so a count no frame can hold is refused before reading. */
export interface Codec<T> {
  readonly minBytes: number;
  encode(writer: Writer, value: T, version: number): void;
  /** `what` names the value in errors. */
  decode(reader: Reader, version: number, what?: string): T;
}

/** A type written by hand. */
export function codec<T>(
  minBytes: number,
  encode: Codec<T>["encode"],
  decode: (reader: Reader, version: number, what: string) => T,
): Codec<T> {
  return { minBytes, encode, decode: (reader, version, what = "value") => decode(reader, version, what) };
}

export const u8 = codec<number>(1, (w, v) => w.u8(v), (r, _, what) => r.u8(what));
export const i8 = codec<number>(1, (w, v) => w.i8(v), (r, _, what) => r.i8(what));
export const u16 = codec<number>(2, (w, v) => w.u16(v), (r, _, what) => r.u16(what));
export const i16 = codec<number>(2, (w, v) => w.i16(v), (r, _, what) => r.i16(what));
export const u32 = codec<number>(4, (w, v) => w.u32(v), (r, _, what) => r.u32(what));
export const i32 = codec<number>(4, (w, v) => w.i32(v), (r, _, what) => r.i32(what));
export const u64 = codec<number>(8, (w, v) => w.u64(v), (r, _, what) => r.u64(what));
export const i64 = codec<number>(8, (w, v) => w.i64(v), (r, _, what) => r.i64(what));
export const bool = codec<boolean>(1, (w, v) => w.bool(v), (r, _, what) => r.bool(what));
export const string = codec<string>(2, (w, v) => w.string(v), (r, _, what) => r.string(what));
/** Vec<u8>. */
export const bytes = codec<Uint8Array>(4, (w, v) => w.bytes(v), (r, _, what) => r.bytesField(what));

/** Option<T>: a presence byte, then the value. */
export function option<T>(inner: Codec<T>): Codec<T | null> {
  return codec<T | null>(
    1,
    (w, value, version) => w.option(value, (x, present) => inner.encode(x, present, version)),
    (r, version, what) => r.option(what, (x) => inner.decode(x, version, what)),
  );
}

export const optionString = option(string);

/** Vec<T>: a u32 count, then the items. */
export function vec<T>(item: Codec<T>, itemWhat?: string): Codec<T[]> {
  return codec<T[]>(
    4,
    (w, items, version) => w.vec(items, (x, entry) => item.encode(x, entry, version)),
    (r, version, what) => r.vec(what, (x) => item.decode(x, version, itemWhat ?? what), item.minBytes),
  );
}

/** BTreeMap<K, V>: a u16 count, then pairs in key order. */
export function map<K extends number | string, V>(key: Codec<K>, value: Codec<V>, keyWhat: string, valueWhat: string): Codec<Map<K, V>> {
  return codec<Map<K, V>>(
    2,
    (w, entries, version) =>
      w.map(
        entries,
        (x, k) => key.encode(x, k, version),
        (x, v) => value.encode(x, v, version),
      ),
    (r, version, what) =>
      r.map(
        what,
        (x) => key.decode(x, version, keyWhat),
        (x) => value.decode(x, version, valueWhat),
      ),
  );
}

/** A variant added to an enum at `since`; below it, the variant travels as `before`, which older peers know. */
export interface VariantGate<T extends string> {
  since: number;
  before: T;
}

/** A fieldless enum as its u8 tag, the variant's index in `variants`; a gated variant's tag is unknown below its version. */
export function variant<T extends string>(variants: readonly T[], gates: Partial<Record<T, VariantGate<T>>> = {}): Codec<T> {
  return codec<T>(
    1,
    (w, value, version) => {
      const gate = gates[value];
      w.variant(variants, gate && version < gate.since ? gate.before : value);
    },
    (r, version, what) => {
      const at = r.offset;
      const value = r.variant(variants, what);
      const gate = gates[value];
      if (gate && version < gate.since) throw new FluvioDecodeError(what, at, `unknown ${what} tag ${variants.indexOf(value)} at version ${version}`);
      return value;
    },
  );
}

/**
 * An enum with fields, as a union on `type`: the u8 tag is the variant's index in `order`,
 * then that variant's fields.
 */
export function union<T extends { type: string }>(
  order: readonly T["type"][],
  cases: { [K in T["type"]]: Codec<Omit<Extract<T, { type: K }>, "type">> },
): Codec<T> {
  const caseOf = (type: T["type"]) => cases[type] as unknown as Codec<Omit<T, "type">>;
  return codec<T>(
    1,
    (w, value, version) => {
      w.variant(order, value.type);
      caseOf(value.type).encode(w, value, version);
    },
    (r, version, what) => {
      const type = r.variant(order, what);
      return { type, ...caseOf(type).decode(r, version, what) } as T;
    },
  );
}

/** One field of a table: present from `since` (inclusive) up to `until` (inclusive) when given. */
export type Field<T> = {
  [K in keyof T]-?: {
    name: K;
    type: Codec<T[K]>;
    since?: number;
    until?: number;
    /** The value when the field is not on the wire at a version; required for a gated field. */
    absent?: T[K];
    /** What an error names; the name in words by default. */
    label?: string;
  };
}[keyof T];

/** Whether `field` is on the wire at `version`. */
export function present(field: { since?: number; until?: number }, version: number): boolean {
  return version >= (field.since ?? -Infinity) && version <= (field.until ?? Infinity);
}

function isGated(field: { since?: number; until?: number }): boolean {
  return field.since !== undefined || field.until !== undefined;
}

/** A struct: its fields, in order, each present at its versions. */
export function struct<T>(fields: readonly Field<T>[]): Codec<T> {
  let minBytes = 0;
  for (const field of fields) {
    if (!isGated(field)) minBytes += field.type.minBytes;
    else if (!("absent" in field)) throw new FluvioEncodeError(`field '${String(field.name)}' is gated by version but has no absent value`);
  }
  // NOTE: the fields on the wire and those absent at each version, made at the first walk of
  // that version, so a walk tests no gate; a table declared but never used (most of them, in
  // a CLI command) costs a start nothing but the checks above.
  type Table = (Field<T> & { label: string })[];
  const byVersion = new Map<number, { onWire: Table; absent: Table }>();
  let table: Table | undefined;
  const at = (version: number) => {
    let split = byVersion.get(version);
    if (!split) {
      table ??= fields.map((field) => ({ ...field, label: field.label ?? String(field.name).replace(/[A-Z]/g, (letter) => ` ${letter.toLowerCase()}`) }));
      split = { onWire: table.filter((field) => !isGated(field) || present(field, version)), absent: table.filter((field) => isGated(field) && !present(field, version)) };
      byVersion.set(version, split);
    }
    return split;
  };
  return codec<T>(
    minBytes,
    (w, value, version) => {
      for (const field of at(version).onWire) (field.type as Codec<unknown>).encode(w, value[field.name], version);
    },
    (r, version) => {
      const value = {} as Record<keyof T, unknown>;
      const split = at(version);
      for (const field of split.onWire) value[field.name] = field.type.decode(r, version, field.label);
      for (const field of split.absent) value[field.name] = field.absent;
      return value as T;
    },
  );
}

/**
 * The version given to a message whose table has no gates (its layout is the same at every
 * version), so its plain functions take none.
 */
const UNGATED = 0;

/** The encode of a message with no gates, as a plain function of (writer, value). */
export function fixedEncoder<T>(type: Codec<T>): (writer: Writer, value: T) => void {
  return (writer, value) => type.encode(writer, value, UNGATED);
}

/** The decode of a message with no gates, as a plain function of (reader). */
export function fixedDecoder<T>(type: Codec<T>, what: string): (reader: Reader) => T {
  return (reader) => type.decode(reader, UNGATED, what);
}

/** A codec's encode as a plain function of (writer, value, version). */
export function encoder<T>(type: Codec<T>): (writer: Writer, value: T, version: number) => void {
  return (writer, value, version) => type.encode(writer, value, version);
}

/** A codec's decode as a plain function of (reader, version). */
export function decoder<T>(type: Codec<T>, what: string): (reader: Reader, version: number) => T {
  return (reader, version) => type.decode(reader, version, what);
}
