/**
 * A leader's side of replication, on its SPU's private port: each follower opens a link with
 * a hello carrying the cluster token (wire/handshake.ts), then sends fetches for one
 * partition, answered in order, one at a time (replica.ts `fetch`). A fetch that fails drops
 * the link; the follower reconnects and asks again.
 *
 * A peer SPU may instead send one `consumer-offset` request (a consumer's commit or read for a
 * stream it serves, when this SPU leads the consumer-offset partition): answered, then closed
 * (consumer-offsets.ts).
 */
import { log } from "../daemon/log.ts";
import type { FetchResult } from "../model/replica-info.ts";
import type { PublicPortFigures } from "../wire/protocol.ts";
import { encodeFrame, encodeFrameHead } from "../wire/frame.ts";
import { acceptHello } from "../wire/handshake.ts";
import type { Link } from "../wire/link.ts";
import { HELLO_TIMEOUT_MS, readConsumerOffsetRequest, readFetch, type FetchMessage, type RecordsMessage } from "../wire/protocol.ts";
import type { ConsumerOffsets } from "./consumer-offsets.ts";
import type { ReplicaManager } from "./replica-manager.ts";

const NOT_LEADER: FetchResult = { endOffset: 0, highWatermark: 0, epochs: [], records: new Uint8Array(0), refusal: "NOT_LEADER" };

/** Sends a fetch's answer: the header, then the records as the frame's body, written after it uncopied. */
function sendRecords(link: Link, request: FetchMessage, result: FetchResult): void {
  const { records, refusal, truncateTo, endOffset, highWatermark, startOffset, epochs } = result;
  const header: RecordsMessage = { type: "records", offset: request.offset, endOffset, highWatermark, startOffset, epochs };
  if (refusal) header.error = refusal;
  if (truncateTo !== undefined) header.truncateTo = truncateTo;
  link.write(encodeFrameHead(header, records.byteLength));
  if (records.byteLength > 0) link.write(records);
}

/** What a follower link is served from. */
export interface FollowerLinkOptions {
  token: string;
  replicas: ReplicaManager;
  figures: () => PublicPortFigures;
  /** This SPU's consumer offsets, loaded on first use. */
  consumerOffsets: () => Promise<ConsumerOffsets>;
}

/** Serves one follower link of this SPU's replicas (or a `figures` request, answered with `figures`, or a peer's `consumer-offset` request). */
export function serveFollower(link: Link, options: FollowerLinkOptions): void {
  const { token, replicas, figures } = options;
  const queue: FetchMessage[] = [];
  let follower: { id: number; topic: string; partition: number } | undefined;
  let busy = false;

  // Never rejects: a fetch that fails drops the link, so neither `busy` stays set nor the
  // daemon meets an unhandled rejection.
  const next = async (): Promise<void> => {
    if (busy) return;
    busy = true;
    try {
      while (queue.length > 0 && !link.destroyed) {
        const request = queue.shift()!;
        if (!follower) {
          follower = { id: request.replicaId, topic: request.topic, partition: request.partition };
          replicas.get(follower.topic, follower.partition)?.followerConnected(follower.id);
        }
        const replica = replicas.get(request.topic, request.partition);
        const result = replica ? await replica.fetch(request) : NOT_LEADER;
        if (!link.destroyed) sendRecords(link, request, result);
      }
    } catch (error) {
      const who = follower ? `SPU ${follower.id} (for '${follower.topic}-${follower.partition}')` : link.remoteAddress;
      log(`dropped the follower connection of ${who}: a fetch failed: ${(error as Error).stack ?? error}`);
      queue.length = 0;
      link.destroy();
    } finally {
      busy = false;
    }
  };

  link.on("close", () => {
    if (follower) replicas.get(follower.topic, follower.partition)?.followerDisconnected(follower.id);
  });
  // A connection that never completes its hello (junk, a frame cut short) is not held open.
  link.setTimeout(HELLO_TIMEOUT_MS);
  link.on("timeout", () => {
    log(`a follower connection from ${link.remoteAddress} sent no hello for ${HELLO_TIMEOUT_MS} ms; closing it`);
    link.destroy();
  });
  acceptHello(link, {
    token,
    kind: "follower connection",
    figures,
    accepted: () => {
      link.setTimeout(0);
      return (frame) => {
        if (frame.header.type === "consumer-offset") {
          const request = readConsumerOffsetRequest(frame.header);
          options.consumerOffsets().then(
            (offsets) => offsets.servePeer(request).then((answer) => link.end(encodeFrame(answer))),
            (error: Error) => link.end(encodeFrame({ type: "consumer-offset", offset: null, error: error.message })),
          );
          return;
        }
        queue.push(readFetch(frame.header));
        void next();
      };
    },
  });
}
