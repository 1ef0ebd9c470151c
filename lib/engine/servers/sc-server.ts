/**
 * The SC as one object: its controller (control-plane/controller.ts), the SPU sessions on the private port
 * (control-plane/spu-sessions.ts) and Fluvio's SC protocol on the public port (sc-public-server.ts).
 * lib/engine/sc.ts starts one as a daemon; tests start one in-process.
 */
import type { TCPSocketListener } from "bun";
import { log } from "../daemon/log.ts";
import type { PublicPort } from "./public-port.ts";
import { serveScPublic } from "./sc-public-server.ts";
import type { Link } from "../wire/link.ts";
import { Controller } from "../control-plane/controller.ts";
import { SpuSessions } from "../control-plane/spu-sessions.ts";
import { MetadataStore } from "../control-plane/store.ts";

/** How long after start the SC waits for SPUs to reconnect before it replaces missing leaders. */
const ELECTION_GRACE_MS = 3_000;

export interface ScServerOptions {
  token: string;
  metadataDir: string;
  publicAddress: { host: string; port: number };
  privateAddress: { host: string; port: number };
}

export class ScServer {
  readonly controller: Controller;
  readonly #sessions = new SpuSessions();
  readonly #public: TCPSocketListener<Link>;
  readonly #publicPort: PublicPort;
  readonly #graceTimer: ReturnType<typeof setTimeout>;

  /** Loads the store and listens on both addresses; throws if either cannot be bound (nothing is left listening). */
  constructor(options: ScServerOptions) {
    const sessions = this.#sessions;
    this.controller = new Controller(new MetadataStore(options.metadataDir), {
      push: (id, assignment) => sessions.push(id, assignment),
      pushChanges: (id, changes) => sessions.pushChanges(id, changes),
      disconnect: (id) => sessions.disconnect(id),
    }, { systemTopics: true });
    const served = serveScPublic(this.controller, options.publicAddress);
    this.#public = served.listener;
    this.#publicPort = served.port;
    try {
      sessions.listen(options.privateAddress, options.token, this.controller, () => this.#publicPort.figures());
    } catch (error) {
      this.#public.stop(true);
      throw error;
    }
    this.#graceTimer = setTimeout(() => this.controller.endStartGrace(ELECTION_GRACE_MS), ELECTION_GRACE_MS);
    const { publicAddress: pub, privateAddress: priv } = options;
    log(
      `SC ready: Fluvio clients ${pub.host}:${pub.port}, SPUs ${priv.host}:${priv.port}, ` +
        `${this.controller.spuCount} SPU(s) registered, ${this.controller.topicCount} topic(s)`,
    );
  }

  /** Closes both ports and every session, without electing: the SPUs are not leaving, the SC is. */
  stop(): void {
    clearTimeout(this.#graceTimer);
    this.controller.closeElections();
    this.#public.stop(true);
    this.#sessions.close();
  }
}
