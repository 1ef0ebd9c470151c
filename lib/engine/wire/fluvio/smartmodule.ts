/**
 * SmartModule invocations as Produce and StreamFetch requests carry them
 * (fluvio-spu-schema src/server/smartmodule.rs, src/server/stream_fetch.rs
 * DerivedStreamInvocation; fluvio-smartmodule src/input.rs SmartModuleExtraParams, Lookback).
 * We do not run SmartModules; these are decoded so a request that names one can be refused
 * with an error code, and so the fields after them can be read.
 */
import { bytes, codec, decoder, encoder, map, option, string, struct, u64, union, type Codec } from "./fields.ts";
import { duration, type Duration } from "./metadata.ts";
import { LOOKBACK_AGE_SINCE, LOOKBACK_SINCE, SMARTMODULE_NAME_SINCE } from "./versions.ts";

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
  /** From version 25 (written by hand in Fluvio, with this gate). */
  name?: string | null;
}

/** The derived stream of StreamFetch versions 16 to 18. */
export interface DerivedStreamInvocation {
  stream: string;
  params: SmartModuleParams;
}

const NO_FIELDS = struct<Record<never, never>>([]);
const JOIN_STREAM = struct<{ topic: string; derivedStream: string }>([
  { name: "topic", type: string, label: "join topic" },
  { name: "derivedStream", type: string },
]);
const ACCUMULATOR = struct<{ accumulator: Uint8Array }>([{ name: "accumulator", type: bytes }]);
const JOIN = struct<{ topic: string }>([{ name: "topic", type: string, label: "join topic" }]);

const CONTEXT = union<SmartModuleContext>(["None", "Aggregate", "Join", "JoinStream"], {
  None: NO_FIELDS,
  Aggregate: ACCUMULATOR,
  Join: JOIN,
  JoinStream: JOIN_STREAM,
});

const KIND = union<SmartModuleKind>(["Filter", "Map", "ArrayMap", "Aggregate", "FilterMap", "Join", "JoinStream", "Generic"], {
  Filter: NO_FIELDS,
  Map: NO_FIELDS,
  ArrayMap: NO_FIELDS,
  Aggregate: ACCUMULATOR,
  FilterMap: NO_FIELDS,
  Join: JOIN,
  JoinStream: JOIN_STREAM,
  Generic: struct<{ context: SmartModuleContext }>([{ name: "context", type: CONTEXT, label: "SmartModule context" }]),
});

const WASM = union<SmartModuleWasm>(["Predefined", "AdHoc"], {
  Predefined: struct<{ name: string }>([{ name: "name", type: string, label: "SmartModule name" }]),
  AdHoc: struct<{ bytes: Uint8Array }>([{ name: "bytes", type: bytes, label: "SmartModule wasm" }]),
});

const PARAMS = struct<SmartModuleParams>([
  { name: "params", type: map(string, string, "param name", "param value"), label: "SmartModule params" },
  {
    name: "lookback",
    type: option(
      struct<Lookback>([
        { name: "last", type: u64, label: "lookback last" },
        { name: "age", type: option(duration), since: LOOKBACK_AGE_SINCE, absent: null, label: "lookback age" },
      ]),
    ),
    since: LOOKBACK_SINCE,
    absent: null,
  },
]);

/** An invocation's name: None when not given. */
const INVOCATION_NAME = codec<string | null | undefined>(1, (w, name) => w.optionString(name ?? null), (r, _, what) => r.optionString(what));

/** SmartModuleInvocation (server/smartmodule.rs). */
export const smartModuleInvocation: Codec<SmartModuleInvocation> = struct<SmartModuleInvocation>([
  { name: "wasm", type: WASM, label: "SmartModule wasm" },
  { name: "kind", type: KIND, label: "SmartModule kind" },
  { name: "params", type: PARAMS },
  { name: "name", type: INVOCATION_NAME, since: SMARTMODULE_NAME_SINCE, absent: undefined, label: "SmartModule invocation name" },
]);

/** DerivedStreamInvocation (server/stream_fetch.rs). */
export const derivedStreamInvocation: Codec<DerivedStreamInvocation> = struct<DerivedStreamInvocation>([
  { name: "stream", type: string, label: "derived stream" },
  { name: "params", type: PARAMS },
]);

export const encodeSmartModuleInvocation = encoder(smartModuleInvocation);
export const decodeSmartModuleInvocation = decoder(smartModuleInvocation, "SmartModule invocation");
