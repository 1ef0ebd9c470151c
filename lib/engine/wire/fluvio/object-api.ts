/**
 * The SC's object API (fluvio-sc-schema src/objects/{metadata,list,watch,create,delete,classic}.rs,
 * src/response.rs; fluvio-controlplane-metadata src/message/msg_type.rs, src/topic/update.rs):
 * Create (1001), Delete (1002), List (1003), Watch (1004), Update (1006), and the answer to
 * Mirroring (1005).
 *
 * From version 11 every request and response body is a type buffer: the object's type label
 * ("Topic", "SPU", ...), a u32 byte length, then the inner message at the same version. Below
 * version 11 ("classic") there is no length (the inner message runs to the end of the body),
 * and a Create carries its common fields first, then a u8 object kind, then the spec.
 * Create, Delete and Update are answered with a Status.
 */
import { bool, i64, option, present, string, struct, u32, union, vec } from "./fields.ts";
import { CREATE_TIMEOUT_SINCE, DELETE_FORCE_SINCE, DYNAMIC_OBJECT_VERSION, SUMMARY_SINCE, SYSTEM_SINCE } from "./versions.ts";
import { decodeErrorCode, encodeErrorCode, type ErrorCode } from "./error-code.ts";
import { FluvioDecodeError, FluvioEncodeError } from "./errors.ts";
import {
  decodeCustomSpuSpec,
  decodeTopicSpec,
  encodeCustomSpuSpec,
  encodeTopicSpec,
  isObjectType,
  METADATA_CODECS,
  type CustomSpuSpec,
  type ObjectMetadata,
  type ObjectType,
  type TopicSpec,
} from "./metadata.ts";
import type { Reader } from "./reader.ts";
import type { Writer } from "./writer.ts";

// ---- The type buffer ----

/** Writes a type buffer: label, then (from version 11) the inner length, then the inner message. */
export function encodeTypeBuffer(writer: Writer, label: string, version: number, writeInner: (writer: Writer) => void): void {
  writer.string(label);
  if (version < DYNAMIC_OBJECT_VERSION) {
    writeInner(writer);
    return;
  }
  const lengthAt = writer.placeholderI32();
  const start = writer.length;
  writeInner(writer);
  writer.patchU32(lengthAt, writer.length - start);
}

/** Reads a type buffer's label and a reader over its inner message. */
export function decodeTypeBuffer(reader: Reader, version: number): { label: string; inner: Reader } {
  const label = reader.string("object type");
  if (version < DYNAMIC_OBJECT_VERSION) return { label, inner: reader.sub(reader.remaining, "object") };
  const length = reader.u32("object length");
  return { label, inner: reader.sub(length, `'${label}' object`) };
}

// ---- List ----

/** Lists objects of any type; the request's layout does not depend on the type. */
export interface ListRequest {
  type: string;
  /** Names to list; empty lists all. */
  nameFilters: string[];
  /** From version 10. */
  summary: boolean;
  /** From version 13. */
  system: boolean;
}

export type ListResponse = { [K in ObjectType]: { type: K; items: ObjectMetadata[K][] } }[ObjectType];

/** A ListRequest inside its type buffer (objects/list.rs; ListFilter is a struct of one name). */
const LIST_REQUEST = struct<Omit<ListRequest, "type">>([
  { name: "nameFilters", type: vec(string, "name filter") },
  { name: "summary", type: bool, since: SUMMARY_SINCE, absent: false },
  { name: "system", type: bool, since: SYSTEM_SINCE, absent: false },
]);

export function encodeListRequest(writer: Writer, request: ListRequest, version: number): void {
  encodeTypeBuffer(writer, request.type, version, (w) => LIST_REQUEST.encode(w, request, version));
}

export function decodeListRequest(reader: Reader, version: number): ListRequest {
  const { label, inner } = decodeTypeBuffer(reader, version);
  return { type: label, ...LIST_REQUEST.decode(inner, version) };
}

export function encodeListResponse(writer: Writer, response: ListResponse, version: number): void {
  const codec = METADATA_CODECS[response.type] as (typeof METADATA_CODECS)["Topic"];
  encodeTypeBuffer(writer, response.type, version, (w) => {
    w.vec(response.items as ObjectMetadata["Topic"][], (x, item) => codec.encode(x, item, version));
  });
}

/** An empty list of a type we do not serve (SmartModule, SpuGroup, TableFormat ...). */
export function encodeEmptyListResponse(writer: Writer, label: string, version: number): void {
  encodeTypeBuffer(writer, label, version, (w) => w.u32(0));
}

export function decodeListResponse(reader: Reader, version: number): ListResponse {
  const at = reader.offset;
  const { label, inner } = decodeTypeBuffer(reader, version);
  if (!isObjectType(label)) throw new FluvioDecodeError("list response", at, `unsupported object type '${label}'`);
  const codec = METADATA_CODECS[label] as (typeof METADATA_CODECS)["Topic"];
  return { type: label, items: inner.vec(`'${label}' list`, (r) => codec.decode(r, version), 2) } as ListResponse;
}

// ---- Watch ----

export interface WatchRequest {
  type: string;
  /** The epoch the client has seen (0 at first). */
  epoch: number;
  /** From version 10. */
  summary: boolean;
}

export const MSG_TYPES = ["UPDATE", "DELETE"] as const;
export type MsgType = (typeof MSG_TYPES)[number];

/**
 * One answer on a watch stream: changes since the client's epoch, or (as Fluvio's SC sends a
 * resync) every object in `all`, which the client takes as the whole truth.
 */
export type WatchResponse = {
  [K in ObjectType]: {
    type: K;
    epoch: number;
    changes: { msgType: MsgType; metadata: ObjectMetadata[K] }[];
    all: ObjectMetadata[K][];
  };
}[ObjectType];

/** A WatchRequest inside its type buffer (objects/watch.rs). */
const WATCH_REQUEST = struct<Omit<WatchRequest, "type">>([
  { name: "epoch", type: i64 },
  { name: "summary", type: bool, since: SUMMARY_SINCE, absent: false },
]);

export function encodeWatchRequest(writer: Writer, request: WatchRequest, version: number): void {
  encodeTypeBuffer(writer, request.type, version, (w) => WATCH_REQUEST.encode(w, request, version));
}

export function decodeWatchRequest(reader: Reader, version: number): WatchRequest {
  const { label, inner } = decodeTypeBuffer(reader, version);
  return { type: label, ...WATCH_REQUEST.decode(inner, version) };
}

export function encodeWatchResponse(writer: Writer, response: WatchResponse, version: number): void {
  const codec = METADATA_CODECS[response.type] as (typeof METADATA_CODECS)["Topic"];
  const changes = response.changes as { msgType: MsgType; metadata: ObjectMetadata["Topic"] }[];
  encodeTypeBuffer(writer, response.type, version, (w) => {
    w.i64(response.epoch);
    w.vec(changes, (x, change) => {
      x.variant(MSG_TYPES, change.msgType);
      codec.encode(x, change.metadata, version);
    });
    w.vec(response.all as ObjectMetadata["Topic"][], (x, item) => codec.encode(x, item, version));
  });
}

/** An empty snapshot of a type we do not serve. */
export function encodeEmptyWatchResponse(writer: Writer, label: string, epoch: number, version: number): void {
  encodeTypeBuffer(writer, label, version, (w) => {
    w.i64(epoch);
    w.u32(0);
    w.u32(0);
  });
}

export function decodeWatchResponse(reader: Reader, version: number): WatchResponse {
  const at = reader.offset;
  const { label, inner } = decodeTypeBuffer(reader, version);
  if (!isObjectType(label)) throw new FluvioDecodeError("watch response", at, `unsupported object type '${label}'`);
  const codec = METADATA_CODECS[label] as (typeof METADATA_CODECS)["Topic"];
  const epoch = inner.i64("epoch");
  const changes = inner.vec(
    "changes",
    (r) => ({ msgType: r.variant(MSG_TYPES, "message type"), metadata: codec.decode(r, version) }),
    3,
  );
  const all = inner.vec("all", (r) => codec.decode(r, version), 2);
  return { type: label, epoch, changes, all } as WatchResponse;
}

// ---- Create ----

export interface CommonCreateRequest {
  name: string;
  dryRun: boolean;
  /** Milliseconds; from version 7. */
  timeout: number | null;
}

export type CreateRequest =
  | { type: "Topic"; common: CommonCreateRequest; spec: TopicSpec }
  | { type: "CustomSpu"; common: CommonCreateRequest; spec: CustomSpuSpec };

/** A create of an object type we cannot decode the spec of; answer it with an error Status. */
export interface UnsupportedCreateRequest {
  type: "unsupported";
  /** The object type's label (for classic requests, derived from the create kind). */
  label: string;
  common: CommonCreateRequest;
}

/** The u8 object kind of a classic create request, by label (classic.rs CREATE_TYPE). */
const CLASSIC_CREATE_KINDS: Record<number, string> = {
  0: "Topic",
  1: "CustomSpu",
  2: "SpuGroup",
  4: "SmartModule",
  5: "TableFormat",
  6: "Mirror",
};

export function encodeCreateRequest(writer: Writer, request: CreateRequest, version: number): void {
  const writeSpec = (w: Writer): void => {
    if (request.type === "Topic") encodeTopicSpec(w, request.spec, version);
    else encodeCustomSpuSpec(w, request.spec);
  };
  if (version < DYNAMIC_OBJECT_VERSION) {
    encodeCommonCreateRequest(writer, request.common, version);
    writer.u8(request.type === "Topic" ? 0 : 1);
    writeSpec(writer);
    return;
  }
  encodeTypeBuffer(writer, request.type, version, (w) => {
    encodeCommonCreateRequest(w, request.common, version);
    writeSpec(w);
  });
}

export function decodeCreateRequest(reader: Reader, version: number): CreateRequest | UnsupportedCreateRequest {
  let label: string;
  let inner: Reader;
  let common: CommonCreateRequest;
  if (version < DYNAMIC_OBJECT_VERSION) {
    inner = reader;
    common = decodeCommonCreateRequest(inner, version);
    const kind = inner.u8("create kind");
    label = CLASSIC_CREATE_KINDS[kind] ?? `create kind ${kind}`;
  } else {
    ({ label, inner } = decodeTypeBuffer(reader, version));
    common = decodeCommonCreateRequest(inner, version);
  }
  if (label === "Topic") return { type: "Topic", common, spec: decodeTopicSpec(inner, version) };
  if (label === "CustomSpu") return { type: "CustomSpu", common, spec: decodeCustomSpuSpec(inner) };
  return { type: "unsupported", label, common };
}

/** CommonCreateRequest (objects/create.rs). */
const COMMON_CREATE_REQUEST = struct<CommonCreateRequest>([
  { name: "name", type: string },
  { name: "dryRun", type: bool },
  { name: "timeout", type: option(u32), since: CREATE_TIMEOUT_SINCE, absent: null },
]);

function encodeCommonCreateRequest(writer: Writer, common: CommonCreateRequest, version: number): void {
  COMMON_CREATE_REQUEST.encode(writer, common, version);
}

function decodeCommonCreateRequest(reader: Reader, version: number): CommonCreateRequest {
  return COMMON_CREATE_REQUEST.decode(reader, version);
}

// ---- Delete ----

/** A delete's force flag; its key is written by hand (a CustomSpu's is an enum of name or id). */
const DELETE_FORCE = { since: DELETE_FORCE_SINCE };

/** A CustomSpu is deleted by name or by id; every other type by its name. */
export type CustomSpuKey = { name: string } | { id: number };

export interface DeleteRequest {
  type: string;
  /** A CustomSpuKey when `type` is "CustomSpu", else the object's name. */
  key: string | CustomSpuKey;
  /** From version 13. */
  force: boolean;
}

export function encodeDeleteRequest(writer: Writer, request: DeleteRequest, version: number): void {
  const isCustomSpu = request.type === "CustomSpu";
  if (isCustomSpu !== (typeof request.key !== "string")) {
    throw new FluvioEncodeError(`a '${request.type}' is deleted by ${isCustomSpu ? "a CustomSpuKey" : "its name"}`);
  }
  encodeTypeBuffer(writer, request.type, version, (w) => {
    const key = request.key;
    if (typeof key === "string") {
      w.string(key);
    } else if ("name" in key) {
      w.string("Name");
      w.string(key.name);
    } else {
      w.string("Id");
      w.i32(key.id);
    }
    if (present(DELETE_FORCE, version)) w.bool(request.force);
  });
}

export function decodeDeleteRequest(reader: Reader, version: number): DeleteRequest {
  const { label, inner } = decodeTypeBuffer(reader, version);
  let key: string | CustomSpuKey;
  if (label === "CustomSpu") {
    const at = inner.offset;
    const keyType = inner.string("custom spu key type");
    if (keyType === "Name") key = { name: inner.string("custom spu name") };
    else if (keyType === "Id") key = { id: inner.i32("custom spu id") };
    else throw new FluvioDecodeError("custom spu key", at, `key type '${keyType}' is neither 'Name' nor 'Id'`);
  } else {
    key = inner.string("object name");
  }
  return { type: label, key, force: present(DELETE_FORCE, version) ? inner.bool("force") : false };
}

// ---- Update (1006): `topic add-partition`, `add-mirror` ----

/** What an Update asks of a topic (fluvio-controlplane-metadata src/topic/update.rs). */
export type UpdateTopicAction = { type: "AddPartition"; count: number } | { type: "AddMirror"; remoteCluster: string; homeToMirror: boolean };

/** An Update of a topic, the one object type Fluvio updates, by its name. */
export interface UpdateRequest {
  type: "Topic";
  key: string;
  action: UpdateTopicAction;
}

/** An Update of a type Fluvio's SC does not update; answer it with an error Status. */
export interface UnsupportedUpdateRequest {
  type: "unsupported";
  label: string;
}

const UPDATE_TOPIC = struct<Omit<UpdateRequest, "type">>([
  { name: "key", type: string, label: "topic name" },
  {
    name: "action",
    label: "update action",
    type: union<UpdateTopicAction>(["AddPartition", "AddMirror"], {
      AddPartition: struct<{ count: number }>([{ name: "count", type: u32, label: "partitions to add" }]),
      AddMirror: struct<{ remoteCluster: string; homeToMirror: boolean }>([
        { name: "remoteCluster", type: string },
        { name: "homeToMirror", type: bool },
      ]),
    }),
  },
]);

export function encodeUpdateRequest(writer: Writer, request: UpdateRequest, version: number): void {
  encodeTypeBuffer(writer, request.type, version, (w) => UPDATE_TOPIC.encode(w, request, version));
}

export function decodeUpdateRequest(reader: Reader, version: number): UpdateRequest | UnsupportedUpdateRequest {
  const { label, inner } = decodeTypeBuffer(reader, version);
  if (label !== "Topic") return { type: "unsupported", label };
  return { type: "Topic", ...UPDATE_TOPIC.decode(inner, version) };
}

// ---- Mirroring (1005), not served ----

/**
 * The type label of an Update (1006) or Mirroring (1005) request and the name its inner message
 * starts with (an Update's key, a mirroring connect's remote id): what an answer to a request
 * this SC does not serve names.
 */
export function decodeObjectNameRequest(reader: Reader, version: number): { label: string; name: string } {
  const { label, inner } = decodeTypeBuffer(reader, version);
  return { label, name: inner.remaining > 0 ? inner.string("name") : "" };
}

/**
 * The answer to a Mirroring request (fluvio-controlplane-metadata src/mirroring/mod.rs
 * MirroringStatusResponse): a Status, then the topics mirrored (none here).
 */
export function encodeMirroringStatus(writer: Writer, status: Status): void {
  encodeStatus(writer, status);
  writer.u32(0);
}

// ---- Status, the answer to Create, Delete and Update ----

export interface Status {
  name: string;
  errorCode: ErrorCode;
  errorMessage: string | null;
}

export function encodeStatus(writer: Writer, status: Status): void {
  writer.string(status.name);
  encodeErrorCode(writer, status.errorCode);
  writer.optionString(status.errorMessage);
}

export function decodeStatus(reader: Reader): Status {
  return { name: reader.string("name"), errorCode: decodeErrorCode(reader), errorMessage: reader.optionString("error message") };
}
