/**
 * SmartModule invocations as Produce and StreamFetch requests carry them
 * (fluvio-spu-schema src/server/smartmodule.rs, src/server/stream_fetch.rs
 * DerivedStreamInvocation; fluvio-smartmodule src/input.rs SmartModuleExtraParams, Lookback).
 * We do not run SmartModules; these are decoded so a request that names one can be refused
 * with an error code, and so the fields after them can be read.
 */
import { decodeDuration, encodeDuration, type Duration } from "./metadata.ts";
import type { Reader } from "./reader.ts";
import type { Writer } from "./writer.ts";

export type SmartModuleWasm = { type: "Predefined"; name: string } | { type: "AdHoc"; bytes: Uint8Array };

export type SmartModuleContext =
  | { type: "None" }
  | { type: "Aggregate"; accumulator: Uint8Array }
  | { type: "Join"; topic: string }
  | { type: "JoinStream"; topic: string; derivedStream: string };

export type SmartModuleKind =
  | { type: "Filter" }
  | { type: "Map" }
  | { type: "ArrayMap" }
  | { type: "Aggregate"; accumulator: Uint8Array }
  | { type: "FilterMap" }
  | { type: "Join"; topic: string }
  | { type: "JoinStream"; topic: string; derivedStream: string }
  | { type: "Generic"; context: SmartModuleContext };

export interface Lookback {
  last: number;
  /** From version 21. */
  age: Duration | null;
}

/** SmartModuleExtraParams: named parameters and (from version 20) a lookback. */
export interface SmartModuleParams {
  params: Map<string, string>;
  lookback: Lookback | null;
}

export interface SmartModuleInvocation {
  wasm: SmartModuleWasm;
  kind: SmartModuleKind;
  params: SmartModuleParams;
}

/** The derived stream of StreamFetch versions 16 to 18. */
export interface DerivedStreamInvocation {
  stream: string;
  params: SmartModuleParams;
}

const KINDS = ["Filter", "Map", "ArrayMap", "Aggregate", "FilterMap", "Join", "JoinStream", "Generic"] as const;
const CONTEXTS = ["None", "Aggregate", "Join", "JoinStream"] as const;

export function encodeSmartModuleInvocation(writer: Writer, invocation: SmartModuleInvocation, version: number): void {
  if (invocation.wasm.type === "Predefined") {
    writer.u8(0);
    writer.string(invocation.wasm.name);
  } else {
    writer.u8(1);
    writer.bytes(invocation.wasm.bytes);
  }
  const kind = invocation.kind;
  writer.variant(KINDS, kind.type);
  if (kind.type === "Aggregate") writer.bytes(kind.accumulator);
  else if (kind.type === "Join") writer.string(kind.topic);
  else if (kind.type === "JoinStream") encodeJoinStream(writer, kind);
  else if (kind.type === "Generic") encodeContext(writer, kind.context);
  encodeSmartModuleParams(writer, invocation.params, version);
}

export function decodeSmartModuleInvocation(reader: Reader, version: number): SmartModuleInvocation {
  const wasm: SmartModuleWasm =
    reader.variant(["Predefined", "AdHoc"], "SmartModule wasm") === "Predefined"
      ? { type: "Predefined", name: reader.string("SmartModule name") }
      : { type: "AdHoc", bytes: reader.bytesField("SmartModule wasm") };
  const kind = decodeKind(reader);
  return { wasm, kind, params: decodeSmartModuleParams(reader, version) };
}

export function encodeDerivedStreamInvocation(writer: Writer, invocation: DerivedStreamInvocation, version: number): void {
  writer.string(invocation.stream);
  encodeSmartModuleParams(writer, invocation.params, version);
}

export function decodeDerivedStreamInvocation(reader: Reader, version: number): DerivedStreamInvocation {
  return { stream: reader.string("derived stream"), params: decodeSmartModuleParams(reader, version) };
}

function decodeKind(reader: Reader): SmartModuleKind {
  const type = reader.variant(KINDS, "SmartModule kind");
  switch (type) {
    case "Aggregate":
      return { type, accumulator: reader.bytesField("accumulator") };
    case "Join":
      return { type, topic: reader.string("join topic") };
    case "JoinStream":
      return { type, topic: reader.string("join topic"), derivedStream: reader.string("derived stream") };
    case "Generic":
      return { type, context: decodeContext(reader) };
    default:
      return { type };
  }
}

function encodeContext(writer: Writer, context: SmartModuleContext): void {
  writer.variant(CONTEXTS, context.type);
  if (context.type === "Aggregate") writer.bytes(context.accumulator);
  else if (context.type === "Join") writer.string(context.topic);
  else if (context.type === "JoinStream") encodeJoinStream(writer, context);
}

function decodeContext(reader: Reader): SmartModuleContext {
  const type = reader.variant(CONTEXTS, "SmartModule context");
  switch (type) {
    case "Aggregate":
      return { type, accumulator: reader.bytesField("accumulator") };
    case "Join":
      return { type, topic: reader.string("join topic") };
    case "JoinStream":
      return { type, topic: reader.string("join topic"), derivedStream: reader.string("derived stream") };
    default:
      return { type };
  }
}

function encodeJoinStream(writer: Writer, join: { topic: string; derivedStream: string }): void {
  writer.string(join.topic);
  writer.string(join.derivedStream);
}

function encodeSmartModuleParams(writer: Writer, params: SmartModuleParams, version: number): void {
  writer.map(params.params, (w, key) => w.string(key), (w, value) => w.string(value));
  if (version >= 20) {
    writer.option(params.lookback, (w, lookback) => {
      w.u64(lookback.last);
      if (version >= 21) w.option(lookback.age, encodeDuration);
    });
  }
}

function decodeSmartModuleParams(reader: Reader, version: number): SmartModuleParams {
  const params = reader.map("SmartModule params", (r) => r.string("param name"), (r) => r.string("param value"));
  const lookback =
    version >= 20
      ? reader.option("lookback", (r) => ({
          last: r.u64("lookback last"),
          age: version >= 21 ? r.option("lookback age", decodeDuration) : null,
        }))
      : null;
  return { params, lookback };
}
