/**
 * The SPU as one object: its replicas (data-plane/replica-manager.ts), its session with the SC, the
 * follower links on its private port (data-plane/follower-links.ts) and Fluvio's SPU protocol on its
 * public port (spu-public-server.ts). lib/engine/spu.ts starts one as a daemon;
 * tests start one in-process.
 *
 * The session with the SC opens with a hello (wire/handshake.ts) and is redialled whenever
 * the SC is away, so an SPU may start before its SC. Over it the SC assigns replicas, and the
 * SPU heartbeats, reports offsets and asks for in-sync set changes.
 *
 * NOTE: Fluvio's protocol (wire/fluvio/, with the replica code it serves from) loads with the
 * first client of the public port, not with the SPU: it is most of the SPU's code, costs each
 * SPU process about 6 ms of CPU to load, and a `create` starts every SPU at once on a machine
 * that may have two cores. The port listens from the start; a client's first bytes wait.
 */
import { mkdirSync, statSync } from "node:fs";
import type { TCPSocketListener } from "bun";
import { log } from "../daemon/log.ts";
import { encodeFrame } from "../wire/frame.ts";
import { HelloClient } from "../wire/handshake.ts";
import type { PublicPortFigures } from "../wire/protocol.ts";
import type { SpuPublicServer } from "./spu-public-server.ts";
import { listenLinks, type Link } from "../wire/link.ts";
import {
  HEARTBEAT_INTERVAL_MS,
  readScToSpu,
  type HeartbeatMessage,
  type IsrMessage,
  type ReportMessage,
} from "../wire/protocol.ts";
import type { ConsumerOffsets } from "../data-plane/consumer-offsets.ts";
import { serveFollower } from "../data-plane/follower-links.ts";
import { ReplicaManager } from "../data-plane/replica-manager.ts";
import { CONSUMER_OFFSET_PARTITION } from "../model/replica-info.ts";

export interface SpuServerOptions {
  id: number;
  token: string;
  dataDir: string;
  publicAddress: { host: string; port: number };
  privateAddress: { host: string; port: number };
  scAddress: { host: string; port: number };
}

export class SpuServer {
  readonly id: number;
  readonly replicas: ReplicaManager;
  readonly #token: string;
  readonly #sc: HelloClient;
  /** The SC accepted this SPU's hello on the current link. */
  #accepted = false;
  readonly #public: TCPSocketListener<Link>;
  /** Fluvio's protocol, once the first client has loaded it. */
  #publicServer: Promise<SpuPublicServer> | undefined;
  #publicServerLoaded: SpuPublicServer | undefined;
  readonly #peers: TCPSocketListener<Link>;
  /** The consumer offsets this SPU keeps or forwards, loaded with their first request. */
  #consumerOffsets: Promise<ConsumerOffsets> | undefined;
  readonly #heartbeat: ReturnType<typeof setInterval>;

  /** Opens the data directory, listens on both addresses and dials the SC; throws if an address cannot be bound. */
  constructor(options: SpuServerOptions) {
    const { id, token } = options;
    this.id = id;
    this.#token = token;
    // Not recursive: the CLI makes the cluster's data directory, and an SPU whose cluster was
    // deleted under it must not make it again.
    try {
      mkdirSync(options.dataDir, { mode: 0o700 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST" || !statSync(options.dataDir).isDirectory()) throw error;
    }
    const toSc = (message: ReportMessage | IsrMessage | HeartbeatMessage) => {
      if (this.#accepted) this.#sc.link?.write(encodeFrame(message));
    };
    this.replicas = new ReplicaManager({
      dataDir: options.dataDir,
      selfId: id,
      token,
      report: (replicas) => toSc({ type: "report", replicas }),
      proposeIsr: (changes) => toSc({ type: "isr", changes }),
      scConnected: () => this.#accepted,
      partitionsDeleted: (removed) => {
        if (!this.replicas.get(CONSUMER_OFFSET_PARTITION.topic, CONSUMER_OFFSET_PARTITION.partition)?.isLeader) return;
        this.consumerOffsets()
          .then((offsets) => offsets.forgetPartitions(removed))
          .then(
            (count) => count > 0 && log(`consumer offsets: dropped ${count} of deleted partition(s) ${removed.map((entry) => `'${entry.topic}-${entry.partition}'`).join(", ")}`),
            (error: Error) => log(`consumer offsets: could not drop those of deleted partitions: ${error.message}`),
          );
      },
    });
    const scName = `${options.scAddress.host}:${options.scAddress.port}`;
    const pub = options.publicAddress;
    const priv = options.privateAddress;
    log(`SPU ${id} starting: public ${pub.host}:${pub.port}, private ${priv.host}:${priv.port}, SC ${scName}, data ${options.dataDir}`);
    try {
      this.#public = listenLinks(pub, (link) => this.#servePublic(link));
    } catch (error) {
      this.replicas.closeAll();
      throw error;
    }
    try {
      this.#peers = listenLinks(priv, (link) =>
        serveFollower(link, { token, replicas: this.replicas, figures: () => this.publicFigures, consumerOffsets: () => this.consumerOffsets() }),
      );
    } catch (error) {
      this.#public.stop(true);
      this.replicas.closeAll();
      throw error;
    }
    this.#sc = new HelloClient(options.scAddress, {
      spuId: id,
      token,
      peer: `SC ${scName}`,
      self: `SPU ${id}`,
      onFrame: (frame) => {
        const message = readScToSpu(frame.header);
        if (message.type === "replicas") {
          this.replicas.apply(message);
          return;
        }
        if (message.type === "replica-changes") {
          this.replicas.applyChanges(message);
          return;
        }
        this.#accepted = true;
        this.#sc.answered();
        log(`SPU ${id} connected to SC ${scName}`);
      },
      closed: () => {
        if (this.#accepted) log(`SPU ${id} lost SC ${scName}; reconnecting`);
        this.#accepted = false;
      },
    });
    this.#heartbeat = setInterval(() => toSc({ type: "heartbeat" }), HEARTBEAT_INTERVAL_MS);
  }

  /** The consumer offsets this SPU keeps while it leads their partition, and forwards otherwise (loaded on first use). */
  consumerOffsets(): Promise<ConsumerOffsets> {
    if (this.#consumerOffsets) return this.#consumerOffsets;
    const loading = import("../data-plane/consumer-offsets.ts").then(({ ConsumerOffsets }) => new ConsumerOffsets(this.replicas, { selfId: this.id, token: this.#token }));
    // Not kept when it fails: the next request tries again.
    loading.catch(() => (this.#consumerOffsets = undefined));
    this.#consumerOffsets = loading;
    return loading;
  }

  /** What the public port holds now (none before its first client loads Fluvio's protocol). */
  get publicFigures(): PublicPortFigures {
    return this.#publicServerLoaded?.figures() ?? { connections: 0, heldBytes: 0, pendingBytes: 0, closedPastDeadline: 0, closedOverPendingBytes: 0, refusedConnections: 0 };
  }

  /** True while the SC has accepted this SPU's session. */
  get scConnected(): boolean {
    return this.#accepted;
  }

  /** Closes everything: the SC session, both ports, and every log (fsynced). */
  stop(): void {
    clearInterval(this.#heartbeat);
    this.#sc.stop();
    this.#public.stop(true);
    this.#publicServerLoaded?.stop();
    this.#peers.stop(true);
    this.replicas.closeAll();
  }

  /** Hands a client of the public port to Fluvio's protocol, loading it for the first client. */
  #servePublic(link: Link): void {
    this.#publicServer ??= import("./spu-public-server.ts").then(({ SpuPublicServer }) => {
      this.#publicServerLoaded = new SpuPublicServer(this.replicas, { spuId: this.id, consumerOffsets: () => this.consumerOffsets() });
      return this.#publicServerLoaded;
    });
    this.#publicServer.then(
      (server) => {
        if (!link.destroyed) server.accept(link);
      },
      (error: Error) => {
        // Not kept: the next client tries again.
        this.#publicServer = undefined;
        log(`SPU ${this.id} cannot serve a Fluvio client from ${link.remoteAddress}: ${error.message}`);
        link.destroy();
      },
    );
  }
}
