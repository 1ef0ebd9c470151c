/**
 * Consumer offsets, SPU keys 1006 UpdateConsumerOffset, 1007 DeleteConsumerOffset and 1008
 * FetchConsumerOffsets (fluvio-spu-schema src/server/consumer_offset.rs, Fluvio 0.17.2 on): a
 * consumer named by its stream's consumer id commits the offset it has read to, and the
 * offsets kept are listed and deleted. FetchConsumerOffsets carries filters from version 24.
 */
import { errorCode, type ErrorCode } from "./error-code.ts";
import { decoder, encoder, fixedDecoder, fixedEncoder, i64, option, optionString, string, struct, u32, u64, vec } from "./fields.ts";
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
  /** Milliseconds since the epoch. */
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
