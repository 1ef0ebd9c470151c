/**
 * FetchOffsets, SPU key 1002 (fluvio-spu-schema src/server/fetch_offset.rs): a consumer asks
 * for each partition's start offset and last stable offset (the high watermark) before it
 * streams, to resolve offsets such as "from the beginning".
 */
import { errorCode, type ErrorCode } from "./error-code.ts";
import { decoder, encoder, fixedDecoder, fixedEncoder, i64, optionString, string, struct, u32, vec } from "./fields.ts";
import { CONSUMER_ID_SINCE, FETCH_OFFSETS_CONSUMER_ID_UNTIL } from "./versions.ts";

export interface FetchOffsetsRequest {
  topics: { name: string; partitions: { partitionIndex: number }[] }[];
  /** At version 23 only. */
  consumerId: string | null;
}

export interface FetchOffsetPartitionResponse {
  errorCode: ErrorCode;
  partitionIndex: number;
  startOffset: number;
  lastStableOffset: number;
}

export interface FetchOffsetsResponse {
  topics: { name: string; partitions: FetchOffsetPartitionResponse[] }[];
}

const REQUEST = struct<FetchOffsetsRequest>([
  {
    name: "topics",
    type: vec(
      struct<FetchOffsetsRequest["topics"][number]>([
        { name: "name", type: string, label: "topic name" },
        { name: "partitions", type: vec(struct<{ partitionIndex: number }>([{ name: "partitionIndex", type: u32 }])) },
      ]),
    ),
  },
  { name: "consumerId", type: optionString, since: CONSUMER_ID_SINCE, until: FETCH_OFFSETS_CONSUMER_ID_UNTIL, absent: null },
]);

const RESPONSE = struct<FetchOffsetsResponse>([
  {
    name: "topics",
    type: vec(
      struct<FetchOffsetsResponse["topics"][number]>([
        { name: "name", type: string, label: "topic name" },
        {
          name: "partitions",
          type: vec(
            struct<FetchOffsetPartitionResponse>([
              { name: "errorCode", type: errorCode },
              { name: "partitionIndex", type: u32 },
              { name: "startOffset", type: i64 },
              { name: "lastStableOffset", type: i64 },
            ]),
          ),
        },
      ]),
    ),
  },
]);

export const FETCH_OFFSETS = { request: REQUEST, response: RESPONSE };

export const encodeFetchOffsetsRequest = encoder(REQUEST);
export const decodeFetchOffsetsRequest = decoder(REQUEST, "fetch offsets request");
/** The response has no version-gated fields. */
export const encodeFetchOffsetsResponse = fixedEncoder(RESPONSE);
export const decodeFetchOffsetsResponse = fixedDecoder(RESPONSE, "fetch offsets response");
