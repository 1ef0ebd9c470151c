/**
 * An SPU's public port in Fluvio's protocol: ApiVersions, Produce, FetchOffsets, StreamFetch
 * and UpdateOffsets, served from the SPU's replicas (data-plane/replica.ts).
 *
 * Produce: each partition's batches are checked whole (record-batch.ts `scanBatches`), appended
 * as they came, and answered once every in-sync replica holds them (acks=all, whatever isolation
 * is asked), or once the request's timeout passes, as Fluvio's SPU does: RequestTimedOut with
 * the offset the batch was stored at (it stays in the leader's log, acknowledged once its
 * followers catch up, unless a new leader drops it). StreamFetch: whole batches below the high watermark from the one holding the fetch
 * offset, as Fluvio's SPU sends them (one read from the log, one write to the socket; the
 * client skips the records below its offset): one answer per read under the request's
 * correlation id, then, after an answer with
 * records, a wait for the consumer's UpdateOffsets (which may arrive on another connection,
 * so streams are known by id across this SPU's connections) before reading on.
 *
 * Consumer offsets (1006-1008, and FetchOffsets' consumer id at version 23), as Fluvio's SPU
 * serves them (consumer_handler.rs, offset_request.rs): a commit names a stream of this SPU,
 * whose topic, partition and consumer id say whose offset it is, and goes to the SPU leading the
 * consumer-offset partition (data-plane/consumer-offsets.ts); lists and deletes are served only
 * there, PartitionNotLeader elsewhere, as Fluvio's SPU answers. Requests are decoded at the header's version, as
 * Fluvio's SPU does (fluvio-dispatch.ts). Bad input (an unknown API key, a frame that does not
 * decode, a size prefix out of bounds) closes that one connection; a bad batch is refused in
 * its partition's answer. Nothing else is disturbed. Connections, frame sizes, frames that do not complete and
 * the bytes they hold are bounded as public-port.ts says.
 *
 * The SPU (servers/spu-server.ts) listens on the port and hands each connection here.
 */
import { log } from "../daemon/log.ts";
import type { Replica, ReplicaErrorCode } from "../data-plane/replica.ts";
import { OffsetEvicted, ProduceTimedOut, ReplicaError } from "../data-plane/replica.ts";
import type { ReplicaManager } from "../data-plane/replica-manager.ts";
import { ConsumerOffsetError, type ConsumerOffsets } from "../data-plane/consumer-offsets.ts";
import type { Link } from "../wire/link.ts";
import { SPU_API_KEY, SPU_API_VERSIONS } from "../wire/fluvio/api-keys.ts";
import {
  decodeDeleteConsumerOffsetRequest,
  decodeFetchConsumerOffsetsRequest,
  decodeUpdateConsumerOffsetRequest,
  encodeDeleteConsumerOffsetResponse,
  encodeFetchConsumerOffsetsResponse,
  encodeUpdateConsumerOffsetResponse,
  type FetchConsumerOffsetsResponse,
} from "../wire/fluvio/consumer-offsets.ts";
import { NO_ERROR, type ErrorCode } from "../wire/fluvio/error-code.ts";
import { FluvioDecodeError } from "../wire/fluvio/errors.ts";
import { decodeFetchOffsetsRequest, encodeFetchOffsetsResponse, type FetchOffsetPartitionResponse } from "../wire/fluvio/fetch-offsets.ts";
import { encodeResponse, type RequestHeader } from "../wire/fluvio/framing.ts";
import { decodeProduceRequest, encodeProduceResponse, type PartitionProduceResponse } from "../wire/fluvio/produce.ts";
import { fluvioDispatch, type Answer, type FluvioHandler } from "./fluvio-dispatch.ts";
import { PublicPort, SPU_PUBLIC_LIMITS } from "./public-port.ts";
import type { PublicPortFigures } from "../wire/protocol.ts";
import type { Reader } from "../wire/fluvio/reader.ts";
import { scanBatches } from "../wire/fluvio/record-batch.ts";
import { decodeStreamFetchRequest, encodeStreamFetchResponse, withRecords, type StreamFetchRequest } from "../wire/fluvio/stream-fetch.ts";
import { decodeUpdateOffsetsRequest, encodeUpdateOffsetsResponse } from "../wire/fluvio/update-offsets.ts";

/** Most bytes of records in one stream answer, whatever the consumer asks. */
const MAX_STREAM_BYTES = 4 * 1024 * 1024;
/** How long one read of a stream waits for new records before it looks again (the stream itself never ends by time). */
const STREAM_POLL_MS = 1_000;
const NO_RECORDS = new Uint8Array(0);

/** The Fluvio error code for a replica error. */
function errorCodeOf(error: unknown): ErrorCode {
  if (error instanceof FluvioDecodeError) return { code: "Other", message: `malformed records: ${error.message}` };
  if (!(error instanceof ReplicaError)) return { code: "Other", message: (error as Error).message };
  const codes: Record<ReplicaErrorCode, ErrorCode> = {
    NOT_LEADER: { code: "NotLeaderForPartition" },
    OFFSET_OUT_OF_RANGE: { code: "OffsetOutOfRange" },
    OFFSET_EVICTED: error instanceof OffsetEvicted ? { code: "OffsetEvicted", offset: error.offset, nextAvailable: error.nextAvailable } : { code: "OffsetOutOfRange" },
    PRODUCE_TIMEOUT: { code: "RequestTimedOut", timeoutMs: 0, requestKind: "Produce" },
    // Fluvio has no code for these: the message names the CLI's (admin.ts reads it back).
    SC_UNREACHABLE: { code: "Other", message: `SC_UNREACHABLE: ${error.message}` },
    DISK_FULL: { code: "Other", message: `DISK_FULL: ${error.message}` },
    BAD_REQUEST: { code: "Other", message: error.message },
  };
  return codes[error.code];
}

/** What Fluvio's SPU answers a consumer-offset request it cannot serve (consumer_handler.rs, services/public/mod.rs). */
function consumerOffsetErrorCode(error: unknown): ErrorCode {
  if (!(error instanceof ConsumerOffsetError)) return { code: "Other", message: (error as Error).message };
  const codes: Record<ConsumerOffsetError["code"], ErrorCode> = {
    NOT_LEADER: { code: "PartitionNotLeader" },
    NO_PARTITION: { code: "TopicNotFound" },
    NO_SPU: { code: "SpuNotFound" },
    FAILED: { code: "Other", message: error.message },
  };
  return codes[error.code];
}

/** Fluvio's compression types, indexed by the codec bits of a batch's attributes (0 none, 1 gzip, ...). */
const CODEC_TYPES = ["None", "Gzip", "Snappy", "Lz4", "Zstd"];

/** Whether a batch of codec bits `codec` may go to a topic of `compressionType`, as Fluvio's produce handler decides (`validate_records`). */
function codecAllowed(codec: number, compressionType = "Any"): boolean {
  return compressionType === "Any" || CODEC_TYPES[codec] === compressionType;
}

/** Fluvio's answer to a produce whose timeout passed: RequestTimedOut, with where the batch was stored. */
function timedOutAnswer(error: ProduceTimedOut): Pick<PartitionProduceResponse, "errorCode" | "baseOffset"> {
  return { errorCode: { code: "RequestTimedOut", timeoutMs: error.timeoutMs, requestKind: "Produce" }, baseOffset: error.stored.baseOffset };
}

/** A consumer's stream: where it has read to, and who waits for it to say so. */
interface StreamState {
  topic: string;
  partition: number;
  consumed: number;
  /** The consumer whose offsets the stream's reads commit (StreamFetch from version 23). */
  consumerId: string | null;
  wake: (() => void) | undefined;
}

/** Serves Fluvio's SPU protocol for `replicas` on the connections of one port. */
export class SpuPublicServer {
  readonly #replicas: ReplicaManager;
  readonly #spuId: number;
  readonly #consumerOffsets: () => Promise<ConsumerOffsets>;
  readonly #streams = new Map<number, StreamState>();
  readonly #port = new PublicPort(SPU_PUBLIC_LIMITS);
  #nextStreamId = 1;

  /** `consumerOffsets` are this SPU's way to the consumer offsets, loaded on first use. */
  constructor(replicas: ReplicaManager, options: { spuId: number; consumerOffsets: () => Promise<ConsumerOffsets> }) {
    this.#replicas = replicas;
    this.#spuId = options.spuId;
    this.#consumerOffsets = options.consumerOffsets;
  }

  /** Wakes every stream, to end with its connection (the port has stopped). */
  stop(): void {
    for (const stream of this.#streams.values()) stream.wake?.();
  }

  /** Serves one client connection until it closes, under the SPU's public port limits. */
  accept(link: Link): void {
    this.#port.serve(link, fluvioDispatch({ advertised: SPU_API_VERSIONS, handlers: this.#handlers(link) }, link));
  }

  /** What the public port holds now, and has closed. */
  figures(): PublicPortFigures {
    return this.#port.figures();
  }

  #handlers(link: Link): Map<number, FluvioHandler> {
    // What an asynchronous handler throws (a body that does not decode) closes its connection,
    // as a synchronous handler's throw does in PublicPort, instead of escaping the daemon.
    const guarded = (work: Promise<void>) =>
      void work.catch((error: Error) => {
        log(`closed a Fluvio client connection from ${link.remoteAddress}: ${error.message}`);
        link.destroy();
      });
    return new Map<number, FluvioHandler>([
      [SPU_API_KEY.produce, (header, body, answer) => guarded(this.#produce(header, body, answer))],
      [SPU_API_KEY.fetchOffsets, (header, body, answer) => guarded(this.#fetchOffsets(header, body, answer))],
      [SPU_API_KEY.streamFetch, (header, body) => void this.#streamFetch(link, header, decodeStreamFetchRequest(body, header.apiVersion))],
      [SPU_API_KEY.updateOffsets, (_header, body, answer) => this.#updateOffsets(body, answer)],
      [SPU_API_KEY.updateConsumerOffset, (_header, body, answer) => guarded(this.#updateConsumerOffset(body, answer))],
      [SPU_API_KEY.deleteConsumerOffset, (_header, body, answer) => guarded(this.#deleteConsumerOffset(body, answer))],
      [SPU_API_KEY.fetchConsumerOffsets, (header, body, answer) => guarded(this.#fetchConsumerOffsets(header, body, answer))],
    ]);
  }

  #updateOffsets(body: Reader, answer: Answer): void {
    const request = decodeUpdateOffsetsRequest(body);
    const status = request.offsets.map(({ offset, sessionId }) => {
      const stream = this.#streams.get(sessionId);
      if (!stream) return { sessionId, errorCode: { code: "FetchSessionNotFound" } as ErrorCode };
      stream.consumed = Math.max(stream.consumed, offset);
      stream.wake?.();
      return { sessionId, errorCode: NO_ERROR };
    });
    answer((writer) => encodeUpdateOffsetsResponse(writer, { status }));
  }

  /**
   * A consumer's commit, for the stream `sessionId` names (Fluvio 0.17.2 on: the client sends it
   * on the stream's own connection). Rejects only on a body that does not decode. As Fluvio's SPU answers: an unknown stream is
   * FetchSessionNotFound, one without a consumer id Other.
   */
  async #updateConsumerOffset(body: Reader, answer: Answer): Promise<void> {
    const request = decodeUpdateConsumerOffsetRequest(body);
    const stream = this.#streams.get(request.sessionId);
    let errorCode: ErrorCode = NO_ERROR;
    if (!stream) errorCode = { code: "FetchSessionNotFound" };
    else if (stream.consumerId === null) errorCode = { code: "Other", message: "stream without consumer id" };
    else {
      try {
        const offsets = await this.#consumerOffsets();
        await offsets.commit({ topic: stream.topic, partition: stream.partition }, stream.consumerId, request.offset);
      } catch (error) {
        errorCode = consumerOffsetErrorCode(error);
      }
    }
    answer((writer) => encodeUpdateConsumerOffsetResponse(writer, { offset: errorCode === NO_ERROR ? request.offset : 0, errorCode }));
  }

  /** Rejects only on a body that does not decode. Deleting an offset that is not kept succeeds, as in Fluvio's SPU. */
  async #deleteConsumerOffset(body: Reader, answer: Answer): Promise<void> {
    const request = decodeDeleteConsumerOffsetRequest(body);
    let errorCode: ErrorCode = NO_ERROR;
    try {
      await (await this.#consumerOffsets()).delete(request.replica, request.consumerId);
    } catch (error) {
      errorCode = consumerOffsetErrorCode(error);
    }
    answer((writer) => encodeDeleteConsumerOffsetResponse(writer, { errorCode }));
  }

  /** Rejects only on a body that does not decode. */
  async #fetchConsumerOffsets(header: RequestHeader, body: Reader, answer: Answer): Promise<void> {
    const request = decodeFetchConsumerOffsetsRequest(body, header.apiVersion);
    let response: FetchConsumerOffsetsResponse;
    try {
      response = { errorCode: NO_ERROR, consumers: await (await this.#consumerOffsets()).list(request.filters) };
    } catch (error) {
      response = { errorCode: consumerOffsetErrorCode(error), consumers: [] };
    }
    answer((writer) => encodeFetchConsumerOffsetsResponse(writer, response));
  }

  #leaderOf(topic: string, partition: number): Replica {
    const replica = this.#replicas.get(topic, partition);
    if (!replica?.isLeader) throw new ReplicaError("NOT_LEADER", `SPU ${this.#spuId} does not lead partition '${topic}-${partition}'`);
    return replica;
  }

  /** Rejects only on a body that does not decode: every partition gets its own answer, errors included. */
  async #produce(header: RequestHeader, body: Reader, answer: Answer): Promise<void> {
    const request = decodeProduceRequest(body, header.apiVersion);
    const responses = await Promise.all(
      request.topics.map(async (topic) => ({
        name: topic.name,
        partitions: await Promise.all(
          topic.partitions.map(async ({ partitionIndex, records }): Promise<PartitionProduceResponse> => {
            const answered = { partitionIndex, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1 };
            try {
              const replica = this.#leaderOf(topic.name, partitionIndex);
              if (request.smartModules.length > 0) throw new ReplicaError("BAD_REQUEST", "SmartModules are not supported by this SPU");
              // Checked whole (framing, magic, CRC-32C, record count, codec) before any of it is stored.
              const batches = scanBatches(records);
              if (batches.length === 0) throw new ReplicaError("BAD_REQUEST", "a produce request needs at least one record");
              if (!batches.every((batch) => codecAllowed(batch.compression, replica.assignment.compressionType))) {
                return { ...answered, errorCode: { code: "CompressionError" } };
              }
              const { baseOffset } = await replica.produce(records, { timeoutMs: request.timeoutMs });
              return { ...answered, errorCode: NO_ERROR, baseOffset, logStartOffset: replica.startOffset };
            } catch (error) {
              if (error instanceof ProduceTimedOut) return { ...answered, ...timedOutAnswer(error) };
              return { ...answered, errorCode: errorCodeOf(error) };
            }
          }),
        ),
      })),
    );
    answer((writer) => encodeProduceResponse(writer, { responses, throttleTimeMs: 0 }, header.apiVersion));
  }

  /**
   * Rejects only on a body that does not decode. With a consumer id (version 23, clients before Fluvio 0.17.2), the start
   * offset is where that consumer goes on: one past the offset it committed, as Fluvio 0.11.11's
   * SPU answers (offset_request.rs).
   */
  async #fetchOffsets(header: RequestHeader, body: Reader, answer: Answer): Promise<void> {
    const request = decodeFetchOffsetsRequest(body, header.apiVersion);
    const topics = await Promise.all(
      request.topics.map(async (topic) => ({
        name: topic.name,
        partitions: await Promise.all(
          topic.partitions.map(async ({ partitionIndex }): Promise<FetchOffsetPartitionResponse> => {
            let replica: Replica;
            try {
              replica = this.#leaderOf(topic.name, partitionIndex);
            } catch (error) {
              return { errorCode: errorCodeOf(error), partitionIndex, startOffset: -1, lastStableOffset: -1 };
            }
            const answered = { errorCode: NO_ERROR, partitionIndex, startOffset: replica.startOffset, lastStableOffset: replica.highWatermark };
            if (request.consumerId === null) return answered;
            try {
              const committed = await (await this.#consumerOffsets()).committed({ topic: topic.name, partition: partitionIndex }, request.consumerId);
              return committed === null ? answered : { ...answered, startOffset: committed + 1 };
            } catch (error) {
              return { ...answered, errorCode: consumerOffsetErrorCode(error) };
            }
          }),
        ),
      })),
    );
    answer((writer) => encodeFetchOffsetsResponse(writer, { topics }));
  }

  /** Streams records until the link closes or the replica stops leading (answered with the error, then the stream ends). */
  async #streamFetch(link: Link, header: RequestHeader, request: StreamFetchRequest): Promise<void> {
    const streamId = this.#nextStreamId++;
    const stream: StreamState = { topic: request.topic, partition: request.partition, consumed: request.fetchOffset, consumerId: request.consumerId, wake: undefined };
    this.#streams.set(streamId, stream);
    const maxBytes = Math.min(Math.max(request.maxBytes, 1), MAX_STREAM_BYTES);
    // An answer without its records' bytes: they follow it, read from the log into the room left before them.
    const head = (partition: { errorCode: ErrorCode; highWatermark: number; logStartOffset: number }) =>
      encodeResponse(header.correlationId, (writer) =>
        encodeStreamFetchResponse(
          writer,
          { topic: request.topic, streamId, partition: { partitionIndex: request.partition, nextFilterOffset: 0, aborted: null, records: NO_RECORDS, ...partition } },
          header.apiVersion,
        ),
      );
    const headroom = head({ errorCode: NO_ERROR, highWatermark: 0, logStartOffset: 0 }).length;
    let offset = request.fetchOffset;
    try {
      if (request.smartModules.length > 0 || request.smartModule || request.derivedStream || request.wasmModule.byteLength > 0) {
        throw new ReplicaError("BAD_REQUEST", "SmartModules are not supported by this SPU");
      }
      while (!link.destroyed) {
        const replica = this.#leaderOf(request.topic, request.partition);
        const read = await replica.consume(offset, { maxBytes, waitMs: STREAM_POLL_MS, headroom });
        if (link.destroyed) break;
        if (read.nextOffset === offset) continue;
        // Whole batches as stored, from the one holding `offset`: the client skips the records below it.
        link.write(withRecords(head({ errorCode: NO_ERROR, highWatermark: replica.highWatermark, logStartOffset: replica.startOffset }), read.bytes, true));
        offset = read.nextOffset;
        // As Fluvio's SPU: read on once the consumer says it has these records.
        while (stream.consumed < offset && !link.destroyed) {
          await new Promise<void>((resolve) => {
            stream.wake = resolve;
            setTimeout(resolve, STREAM_POLL_MS);
          });
          stream.wake = undefined;
        }
      }
    } catch (error) {
      if (!link.destroyed) link.write(head({ errorCode: errorCodeOf(error), highWatermark: -1, logStartOffset: -1 }));
    } finally {
      this.#streams.delete(streamId);
    }
  }
}
