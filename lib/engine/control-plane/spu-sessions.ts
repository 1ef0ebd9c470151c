/**
 * The SC's private port: one session per SPU. A session opens with a hello carrying the
 * cluster token from a registered SPU that holds no other session (wire/handshake.ts); from
 * then on the SPU is online, until its link closes or it sends nothing for SESSION_TIMEOUT_MS
 * (it heartbeats every HEARTBEAT_INTERVAL_MS), so a hung SPU goes offline too.
 */
import type { TCPSocketListener } from "bun";
import { log } from "../daemon/log.ts";
import type { AssignmentChanges, SpuAssignment } from "../model/replica-info.ts";
import type { PublicPortFigures } from "../wire/protocol.ts";
import { encodeFrame } from "../wire/frame.ts";
import { acceptHello } from "../wire/handshake.ts";
import { listenLinks, type Link } from "../wire/link.ts";
import { readSpuToSc, type ReplicaChangesMessage, type ReplicasMessage } from "../wire/protocol.ts";
import type { Controller } from "./controller.ts";

/** A session silent for this long is closed: the SPU is offline. */
const SESSION_TIMEOUT_MS = 3_000;

export class SpuSessions {
  readonly #links = new Map<number, Link>();
  #listener: TCPSocketListener<Link> | undefined;

  /** Listens on `address` (throws if it cannot bind); `controller` hears of every session; `figures` answers who asks with the token. */
  listen(address: { host: string; port: number }, token: string, controller: Controller, figures: () => PublicPortFigures): void {
    this.#listener = listenLinks(address, (link) => this.#accept(link, token, controller, figures));
  }

  /** Sends SPU `id` its assignment, if it holds a session. */
  push(id: number, assignment: SpuAssignment): void {
    this.#links.get(id)?.write(encodeFrame<ReplicasMessage>({ type: "replicas", ...assignment }));
  }

  /** Sends SPU `id` what changed of its replicas, if it holds a session. */
  pushChanges(id: number, changes: AssignmentChanges): void {
    this.#links.get(id)?.write(encodeFrame<ReplicaChangesMessage>({ type: "replica-changes", ...changes }));
  }

  disconnect(id: number): void {
    this.#links.get(id)?.destroy();
  }

  /** Stops listening and closes every session. */
  close(): void {
    this.#listener?.stop(true);
    for (const link of this.#links.values()) link.destroy();
  }

  #accept(link: Link, token: string, controller: Controller, figures: () => PublicPortFigures): void {
    let spuId: number | undefined;
    // Also closes a connection that never says hello.
    link.setTimeout(SESSION_TIMEOUT_MS);
    link.on("timeout", () => {
      log(`${spuId === undefined ? `a connection from ${link.remoteAddress}` : `SPU ${spuId}`} sent nothing for ${SESSION_TIMEOUT_MS} ms; closing it`);
      link.destroy();
    });
    link.on("close", () => {
      if (spuId === undefined || this.#links.get(spuId) !== link) return;
      this.#links.delete(spuId);
      controller.spuOffline(spuId);
    });
    acceptHello(link, {
      token,
      kind: "connection",
      figures,
      refuse: (hello) => {
        if (!controller.isRegistered(hello.spuId)) return `SPU ${hello.spuId} is not registered`;
        if (this.#links.has(hello.spuId)) return `SPU ${hello.spuId} is already connected`;
        return undefined;
      },
      accepted: (hello) => {
        const id = hello.spuId;
        spuId = id;
        this.#links.set(id, link);
        link.write(encodeFrame({ type: "accepted" }));
        controller.spuOnline(id);
        return (frame) => {
          const message = readSpuToSc(frame.header);
          if (message.type === "report") controller.recordReport(id, message.replicas);
          else if (message.type === "isr") controller.changeIsr(id, message.changes);
        };
      },
    });
  }
}
