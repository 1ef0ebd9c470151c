/**
 * Consumer offsets, SPU keys 1006 UpdateConsumerOffset, 1007 DeleteConsumerOffset and 1008
 * FetchConsumerOffsets (fluvio-spu-schema src/server/consumer_offset.rs, Fluvio 0.17.2 on): a
 * consumer named by its stream's consumer id commits the offset it has read to, and the
 * offsets kept are listed and deleted. FetchConsumerOffsets carries filters from version 24.
 *
 * Also the records of the consumer-offset partition, as Fluvio's SPU writes them
 * (fluvio-kv-storage src/log.rs `Entry`, fluvio-spu src/kv/consumer.rs): each record's value is
 * one entry, a u8 tag then its fields: 0 updated {key, value}, 1 deleted {key}, 2 checkpoint.
 * Key and value are themselves encoded and carried as byte vectors (u32 length): the key
 * {partition {topic, partition u32}, consumer id}, the value {offset i64, modified time u64
 * in seconds}. A checkpoint opens a batch that then holds every offset kept, so the state is
 * the entries after the last checkpoint.
 */
import { errorCode, type ErrorCode } from "./error-code.ts";
import { FluvioDecodeError } from "./errors.ts";
import { bytes, decoder, encoder, fixedDecoder, fixedEncoder, i64, option, optionString, string, struct, u32, u64, vec } from "./fields.ts";
import { Reader } from "./reader.ts";
import { Writer } from "./writer.ts";
import { CONSUMER_OFFSET_FILTERS_SINCE } from "./versions.ts";

/** A partition, as Fluvio names one in a message (fluvio-protocol src/record/replica.rs). */
export interface ReplicaKey {
  topic: string;
  partition: number;
}

export interface UpdateConsumerOffsetRequest {
  offset: number;
  /** The stream (StreamFetch's stream id) whose consumer id names the consumer. */
  sessionId: number;
}

export interface UpdateConsumerOffsetResponse {
  offset: number;
  errorCode: ErrorCode;
}

export interface DeleteConsumerOffsetRequest {
  replica: ReplicaKey;
  consumerId: string;
}

export interface DeleteConsumerOffsetResponse {
  errorCode: ErrorCode;
}

export interface ConsumerOffsetFilters {
  replica: ReplicaKey | null;
  consumerId: string | null;
}

export interface FetchConsumerOffsetsRequest {
  /** From version 24. */
  filters: ConsumerOffsetFilters | null;
}

export interface ConsumerOffset {
  consumerId: string;
  replica: ReplicaKey;
  offset: number;
  /** Seconds since the epoch, as Fluvio's SPU keeps it (kv/consumer.rs TimestampSecs). */
  modifiedTime: number;
}

export interface FetchConsumerOffsetsResponse {
  errorCode: ErrorCode;
  consumers: ConsumerOffset[];
}

const REPLICA_KEY = struct<ReplicaKey>([
  { name: "topic", type: string },
  { name: "partition", type: u32 },
]);

const UPDATE_REQUEST = struct<UpdateConsumerOffsetRequest>([
  { name: "offset", type: i64 },
  { name: "sessionId", type: u32 },
]);

const UPDATE_RESPONSE = struct<UpdateConsumerOffsetResponse>([
  { name: "offset", type: i64 },
  { name: "errorCode", type: errorCode },
]);

const DELETE_REQUEST = struct<DeleteConsumerOffsetRequest>([
  { name: "replica", type: REPLICA_KEY },
  { name: "consumerId", type: string },
]);

const DELETE_RESPONSE = struct<DeleteConsumerOffsetResponse>([{ name: "errorCode", type: errorCode }]);

const FETCH_REQUEST = struct<FetchConsumerOffsetsRequest>([
  {
    name: "filters",
    type: option(
      struct<ConsumerOffsetFilters>([
        { name: "replica", type: option(REPLICA_KEY) },
        { name: "consumerId", type: optionString },
      ]),
    ),
    since: CONSUMER_OFFSET_FILTERS_SINCE,
    absent: null,
  },
]);

const FETCH_RESPONSE = struct<FetchConsumerOffsetsResponse>([
  { name: "errorCode", type: errorCode },
  {
    name: "consumers",
    type: vec(
      struct<ConsumerOffset>([
        { name: "consumerId", type: string },
        { name: "replica", type: REPLICA_KEY },
        { name: "offset", type: i64 },
        { name: "modifiedTime", type: u64 },
      ]),
    ),
  },
]);

export const UPDATE_CONSUMER_OFFSET = { request: UPDATE_REQUEST, response: UPDATE_RESPONSE };
export const DELETE_CONSUMER_OFFSET = { request: DELETE_REQUEST, response: DELETE_RESPONSE };
export const FETCH_CONSUMER_OFFSETS = { request: FETCH_REQUEST, response: FETCH_RESPONSE };

export const encodeUpdateConsumerOffsetRequest = fixedEncoder(UPDATE_REQUEST);
export const decodeUpdateConsumerOffsetRequest = fixedDecoder(UPDATE_REQUEST, "update consumer offset request");
export const encodeUpdateConsumerOffsetResponse = fixedEncoder(UPDATE_RESPONSE);
export const decodeUpdateConsumerOffsetResponse = fixedDecoder(UPDATE_RESPONSE, "update consumer offset response");
export const encodeDeleteConsumerOffsetRequest = fixedEncoder(DELETE_REQUEST);
export const decodeDeleteConsumerOffsetRequest = fixedDecoder(DELETE_REQUEST, "delete consumer offset request");
export const encodeDeleteConsumerOffsetResponse = fixedEncoder(DELETE_RESPONSE);
export const decodeDeleteConsumerOffsetResponse = fixedDecoder(DELETE_RESPONSE, "delete consumer offset response");
export const encodeFetchConsumerOffsetsRequest = encoder(FETCH_REQUEST);
export const decodeFetchConsumerOffsetsRequest = decoder(FETCH_REQUEST, "fetch consumer offsets request");
export const encodeFetchConsumerOffsetsResponse = fixedEncoder(FETCH_RESPONSE);
export const decodeFetchConsumerOffsetsResponse = fixedDecoder(FETCH_RESPONSE, "fetch consumer offsets response");

/** Whose offset a record of the consumer-offset partition names. */
export interface ConsumerOffsetKey {
  replica: ReplicaKey;
  consumerId: string;
}

/** What is kept for a key: the last offset the consumer read, and when it said so (seconds since the epoch). */
export interface StoredConsumerOffset {
  offset: number;
  modifiedTime: number;
}

/** One record's value in the consumer-offset partition. */
export type ConsumerOffsetEntry =
  | { type: "updated"; key: ConsumerOffsetKey; value: StoredConsumerOffset }
  | { type: "deleted"; key: ConsumerOffsetKey }
  | { type: "checkpoint" };

const ENTRY_KEY = struct<ConsumerOffsetKey>([
  { name: "replica", type: REPLICA_KEY },
  { name: "consumerId", type: string },
]);

const ENTRY_VALUE = struct<StoredConsumerOffset>([
  { name: "offset", type: i64 },
  { name: "modifiedTime", type: u64 },
]);

const ENTRY_TAGS = ["updated", "deleted", "checkpoint"] as const;
const encodeEntryKey = fixedEncoder(ENTRY_KEY);
const encodeEntryValue = fixedEncoder(ENTRY_VALUE);
const decodeEntryKey = fixedDecoder(ENTRY_KEY, "consumer offset key");
const decodeEntryValue = fixedDecoder(ENTRY_VALUE, "consumer offset value");
const encodeByteVector = fixedEncoder(bytes);
const decodeByteVector = fixedDecoder(bytes, "consumer offset entry field");

/** `write`'s bytes, copied out of their writer. */
function written(write: (writer: Writer) => void): Uint8Array {
  const writer = new Writer(64);
  write(writer);
  return writer.finish().slice();
}

/** `decode` of the whole of `field`: bytes left over are malformed. */
function whole<T>(field: Uint8Array, decode: (reader: Reader) => T, what: string): T {
  const reader = new Reader(field);
  const value = decode(reader);
  if (reader.remaining > 0) throw new FluvioDecodeError(what, reader.offset, `${reader.remaining} byte(s) left over`);
  return value;
}

/** The record value of `entry`, as Fluvio's SPU writes it. */
export function encodeConsumerOffsetEntry(entry: ConsumerOffsetEntry): Uint8Array {
  return written((writer) => {
    writer.variant(ENTRY_TAGS, entry.type);
    if (entry.type !== "checkpoint") encodeByteVector(writer, written((inner) => encodeEntryKey(inner, entry.key)));
    if (entry.type === "updated") encodeByteVector(writer, written((inner) => encodeEntryValue(inner, entry.value)));
  });
}

/** The entry a record value of the consumer-offset partition holds; throws FluvioDecodeError on anything else. */
export function decodeConsumerOffsetEntry(value: Uint8Array): ConsumerOffsetEntry {
  return whole(
    value,
    (reader): ConsumerOffsetEntry => {
      const type = reader.variant(ENTRY_TAGS, "consumer offset entry");
      if (type === "checkpoint") return { type };
      const key = whole(decodeByteVector(reader), decodeEntryKey, "consumer offset key");
      if (type === "deleted") return { type, key };
      return { type, key, value: whole(decodeByteVector(reader), decodeEntryValue, "consumer offset value") };
    },
    "consumer offset entry",
  );
}
