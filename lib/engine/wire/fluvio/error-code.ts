/**
 * Fluvio's ErrorCode (fluvio-protocol src/link/error_code.rs, to v0.18.1): an enum with an i16 tag, some
 * variants carrying fields after the tag. Every tag of that file is encoded and decoded here;
 * an unknown tag is malformed. Variant names are Fluvio's, except two misspellings corrected
 * (SpuRegistrationFailed, FetchSessionNotFound); only the tag numbers travel.
 */
import { FluvioDecodeError } from "./errors.ts";
import { codec } from "./fields.ts";
import type { Reader } from "./reader.ts";
import type { Writer } from "./writer.ts";

/** Variants without fields, with their tags. */
const UNIT_TAGS = {
  UnknownServerError: -1,
  None: 0,
  OffsetOutOfRange: 1,
  NotLeaderForPartition: 6,
  MessageTooLarge: 10,
  PermissionDenied: 13,
  StorageError: 56,
  InvalidCreateRequest: 60,
  InvalidDeleteRequest: 61,
  SpuError: 1000,
  SpuRegistrationFailed: 1001,
  SpuOffline: 1002,
  SpuNotFound: 1003,
  SpuAlreadyExists: 1004,
  TopicError: 2000,
  TopicNotFound: 2001,
  TopicAlreadyExists: 2002,
  TopicPendingInitialization: 2003,
  TopicInvalidConfiguration: 2004,
  TopicNotProvisioned: 2005,
  TopicInvalidName: 2006,
  TopicDeleted: 2007,
  TopicInvalidReplicaType: 2008,
  PartitionPendingInitialization: 3000,
  PartitionNotLeader: 3001,
  FetchSessionNotFound: 3002,
  OffsetManagementDisabled: 3004,
  MaxRetryReached: 3005,
  ManagedConnectorError: 5000,
  ManagedConnectorNotFound: 5001,
  ManagedConnectorAlreadyExists: 5002,
  SmartModuleError: 6000,
  TableFormatError: 7000,
  TableFormatNotFound: 7001,
  TableFormatAlreadyExists: 7002,
  DerivedStreamObjectError: 8000,
  DerivedStreamJoinFetchError: 8002,
  CompressionError: 9000,
  DeduplicationSmartModuleNotLoaded: 10000,
  MirrorNotFound: 11001,
  MirrorAlreadyExists: 11002,
  MirrorProduceFromHome: 11003,
  MirrorDeleteFromRemote: 11004,
  MirrorInvalidType: 11005,
  MirrorProduceFromRemoteNotAllowed: 11006,
  PartitionShortCircuited: 73,
} as const;

/** Variants with fields, with their tags. */
const FIELD_TAGS = {
  Other: 2,
  RequestTimedOut: 7,
  OffsetEvicted: 71,
  PartitionFull: 72,
  OffsetFlushRequestError: 3003,
  SmartModuleNotFound: 6001,
  SmartModuleInvalid: 6002,
  SmartModuleInvalidExports: 6003,
  SmartModuleRuntimeError: 6004,
  SmartModuleChainInitError: 6005,
  SmartModuleInitError: 6006,
  SmartModuleLookBackError: 6007,
  SmartModuleMemoryLimitExceeded: 6008,
  DerivedStreamNotFound: 8001,
  DerivedStreamInvalid: 8003,
  DeduplicationSmartModuleNameInvalid: 10001,
  SystemSpecDeletionAttempt: 12001,
  SystemSpecUpdatingAttempt: 12002,
} as const;

export type UnitErrorCode = keyof typeof UNIT_TAGS;

/** The SmartModule kinds a runtime error names (fluvio-protocol src/link/smartmodule.rs). */
export const SMART_MODULE_ERROR_KINDS = ["Filter", "Map", "ArrayMap", "Aggregate", "FilterMap", "Join", "Generic"] as const;
export type SmartModuleErrorKind = (typeof SMART_MODULE_ERROR_KINDS)[number];

export type ErrorCode =
  | { code: UnitErrorCode }
  | { code: "Other"; message: string }
  /** `requestKind` is RequestKind, whose only variant is Produce (tag 0). */
  | { code: "RequestTimedOut"; timeoutMs: number; requestKind: "Produce" }
  | { code: "OffsetEvicted"; offset: number; nextAvailable: number }
  /** The partition, as a ReplicaKey (topic, u32 partition). */
  | { code: "PartitionFull"; topic: string; partition: number }
  | { code: "OffsetFlushRequestError"; message: string }
  | { code: "SmartModuleNotFound"; name: string }
  | { code: "SmartModuleInvalid"; error: string; name: string | null }
  | { code: "SmartModuleInvalidExports"; error: string; smartModuleKind: string }
  | {
      code: "SmartModuleRuntimeError";
      hint: string;
      offset: number;
      smartModuleKind: SmartModuleErrorKind;
      recordKey: Uint8Array | null;
      recordValue: Uint8Array;
    }
  | { code: "SmartModuleChainInitError"; message: string }
  | { code: "SmartModuleInitError"; hint: string }
  | { code: "SmartModuleLookBackError"; message: string }
  | { code: "SmartModuleMemoryLimitExceeded"; requested: number; max: number }
  | { code: "DerivedStreamNotFound"; name: string }
  | { code: "DerivedStreamInvalid"; name: string }
  | { code: "DeduplicationSmartModuleNameInvalid"; name: string }
  | { code: "SystemSpecDeletionAttempt"; objectKind: string; name: string }
  | { code: "SystemSpecUpdatingAttempt"; objectKind: string; name: string };

export type ErrorCodeName = ErrorCode["code"];

/** Success: what every answer without an error carries. */
export const NO_ERROR: ErrorCode = { code: "None" };

const TAG_NAMES = new Map<number, ErrorCodeName>(
  [...Object.entries(UNIT_TAGS), ...Object.entries(FIELD_TAGS)].map(([name, tag]) => [tag, name as ErrorCodeName]),
);

/** The i16 tag of an error code's variant. */
export function errorCodeTag(code: ErrorCodeName): number {
  return code in UNIT_TAGS ? UNIT_TAGS[code as UnitErrorCode] : FIELD_TAGS[code as keyof typeof FIELD_TAGS];
}

export function isError(errorCode: ErrorCode): boolean {
  return errorCode.code !== "None";
}

export function encodeErrorCode(writer: Writer, errorCode: ErrorCode): void {
  writer.i16(errorCodeTag(errorCode.code));
  switch (errorCode.code) {
    case "Other":
    case "OffsetFlushRequestError":
    case "SmartModuleChainInitError":
    case "SmartModuleLookBackError":
      writer.string(errorCode.message);
      return;
    case "RequestTimedOut":
      writer.u64(errorCode.timeoutMs);
      writer.u8(0);
      return;
    case "OffsetEvicted":
      writer.i64(errorCode.offset);
      writer.i64(errorCode.nextAvailable);
      return;
    case "PartitionFull":
      writer.string(errorCode.topic);
      writer.u32(errorCode.partition);
      return;
    case "SmartModuleNotFound":
    case "DerivedStreamNotFound":
    case "DerivedStreamInvalid":
    case "DeduplicationSmartModuleNameInvalid":
      writer.string(errorCode.name);
      return;
    case "SmartModuleInvalid":
      writer.string(errorCode.error);
      writer.optionString(errorCode.name);
      return;
    case "SmartModuleInvalidExports":
      writer.string(errorCode.error);
      writer.string(errorCode.smartModuleKind);
      return;
    case "SmartModuleRuntimeError":
      writer.string(errorCode.hint);
      writer.i64(errorCode.offset);
      writer.u8(SMART_MODULE_ERROR_KINDS.indexOf(errorCode.smartModuleKind));
      writer.option(errorCode.recordKey, writeRecordData);
      writeRecordData(writer, errorCode.recordValue);
      return;
    case "SmartModuleInitError":
      writer.string(errorCode.hint);
      return;
    case "SmartModuleMemoryLimitExceeded":
      writer.u64(errorCode.requested);
      writer.u64(errorCode.max);
      return;
    case "SystemSpecDeletionAttempt":
    case "SystemSpecUpdatingAttempt":
      writer.string(errorCode.objectKind);
      writer.string(errorCode.name);
      return;
  }
}

export function decodeErrorCode(reader: Reader): ErrorCode {
  const start = reader.offset;
  const tag = reader.i16("error code");
  const code = TAG_NAMES.get(tag);
  switch (code) {
    case undefined:
      throw new FluvioDecodeError("error code", start, `unknown error code tag ${tag}`);
    case "Other":
    case "OffsetFlushRequestError":
    case "SmartModuleChainInitError":
    case "SmartModuleLookBackError":
      return { code, message: reader.string(`${code} message`) };
    case "RequestTimedOut": {
      const timeoutMs = reader.u64("timeout");
      const kindAt = reader.offset;
      const kind = reader.u8("request kind");
      if (kind !== 0) throw new FluvioDecodeError("request kind", kindAt, `unknown request kind ${kind}`);
      return { code, timeoutMs, requestKind: "Produce" };
    }
    case "OffsetEvicted":
      return { code, offset: reader.i64("offset"), nextAvailable: reader.i64("next available offset") };
    case "PartitionFull":
      return { code, topic: reader.string("full partition's topic"), partition: reader.u32("full partition") };
    case "SmartModuleNotFound":
    case "DerivedStreamNotFound":
    case "DerivedStreamInvalid":
    case "DeduplicationSmartModuleNameInvalid":
      return { code, name: reader.string(`${code} name`) };
    case "SmartModuleInvalid":
      return { code, error: reader.string("error"), name: reader.optionString("SmartModule name") };
    case "SmartModuleInvalidExports":
      return { code, error: reader.string("error"), smartModuleKind: reader.string("SmartModule kind") };
    case "SmartModuleRuntimeError": {
      const hint = reader.string("hint");
      const offset = reader.i64("offset");
      const kindAt = reader.offset;
      const smartModuleKind = SMART_MODULE_ERROR_KINDS[reader.u8("SmartModule kind")];
      if (smartModuleKind === undefined) {
        throw new FluvioDecodeError("SmartModule kind", kindAt, `unknown SmartModule kind ${reader.bytes[kindAt]}`);
      }
      const recordKey = reader.option("record key", readRecordData);
      return { code, hint, offset, smartModuleKind, recordKey, recordValue: readRecordData(reader) };
    }
    case "SmartModuleInitError":
      return { code, hint: reader.string("hint") };
    case "SmartModuleMemoryLimitExceeded":
      return { code, requested: reader.u64("requested bytes"), max: reader.u64("maximum bytes") };
    case "SystemSpecDeletionAttempt":
    case "SystemSpecUpdatingAttempt":
      return { code, objectKind: reader.string("object kind"), name: reader.string("name") };
    default:
      return { code };
  }
}

/** ErrorCode in a field table: an i16 tag, then its variant's fields, written by hand. */
export const errorCode = codec<ErrorCode>(2, (writer, value) => encodeErrorCode(writer, value), (reader) => decodeErrorCode(reader));

/** RecordData: a varint length, then the bytes. */
function writeRecordData(writer: Writer, data: Uint8Array): void {
  writer.varint(data.byteLength);
  writer.raw(data);
}

function readRecordData(reader: Reader): Uint8Array {
  const at = reader.offset;
  const length = reader.varint("record data length");
  if (length < 0) throw new FluvioDecodeError("record data length", at, `length ${length} is negative`);
  return reader.raw(length, "record data");
}
