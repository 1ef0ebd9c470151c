/**
 * The face of Fluvio's codec for a client of an SPU: Produce, FetchOffsets, StreamFetch,
 * UpdateOffsets, consumer offsets, record batches and their compression.
 *
 * NOTE: apart from mod.ts because it is most of the codec: a command that only talks to the SC
 * (`status`, `create`, `resume`) never loads it (lib/fluvio/admin.ts loads it on first use).
 */
export { CODECS, type Codec } from "./compression.ts";
export { decodeProduceResponse, encodeProduceRequest } from "./produce.ts";
export { decodeFetchOffsetsResponse, encodeFetchOffsetsRequest } from "./fetch-offsets.ts";
export { decodeStreamFetchResponse, encodeStreamFetchRequest } from "./stream-fetch.ts";
export { encodeUpdateOffsetsRequest } from "./update-offsets.ts";
export {
  decodeDeleteConsumerOffsetResponse,
  decodeFetchConsumerOffsetsResponse,
  decodeUpdateConsumerOffsetResponse,
  encodeDeleteConsumerOffsetRequest,
  encodeFetchConsumerOffsetsRequest,
  encodeUpdateConsumerOffsetRequest,
  type ConsumerOffset,
} from "./consumer-offsets.ts";
export { compressBatch, decodeBatches, encodeRecords, encodeValueSpans, scanBatches, valueLines, type ValueSpans } from "./record-batch.ts";
