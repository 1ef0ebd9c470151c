/**
 * The opening of every internal link, both sides. The connecting SPU's first frame is a
 * `hello` with its id and the cluster token; the accepting side (the SC's private port, or a
 * leader's private port for followers) answers anything else, a wrong token or a hello its
 * own rule refuses with `refused` and a reason, closes the link, and reads nothing more from
 * it. The connecting side logs a refusal once per reason: it keeps retrying until whatever
 * refused it changes (an SPU not yet registered, say).
 *
 * A first frame `figures` with the token instead (what `cluster status` sends) is answered
 * with the daemon's public port figures, and the link closed: it is no session.
 */
import { log } from "../daemon/log.ts";
import { tokenMatches } from "./token.ts";
import { encodeFrame, FrameReader, type Frame } from "./frame.ts";
import { Backoff } from "../../base/backoff.ts";
import { connectLink, type Link } from "./link.ts";
import { readHello, type FiguresMessage, type HelloMessage, type RefusedMessage } from "./protocol.ts";
import type { PublicPortFigures } from "./protocol.ts";

export interface AcceptHelloOptions {
  /** The cluster token a hello must carry. */
  token: string;
  /** What the link is called in log lines: "connection", "follower connection". */
  kind: string;
  /** Why a hello with the right token is refused anyway (say, an unregistered SPU), or undefined. */
  refuse?: (hello: HelloMessage) => string | undefined;
  /** Takes an accepted hello and returns the handler of every frame after it. */
  accepted: (hello: HelloMessage) => (frame: Frame) => void;
  /** The daemon's public port figures, for a `figures` request with the token. */
  figures: () => PublicPortFigures;
}

/** Serves an accepted link whose first frame must be a hello the options accept. */
export function acceptHello(link: Link, options: AcceptHelloOptions): void {
  const reader = new FrameReader();
  let onFrame: ((frame: Frame) => void) | undefined;
  let refused = false;
  link.on("data", (chunk) => {
    if (refused) return;
    try {
      for (const frame of reader.push(chunk)) {
        if (onFrame) {
          onFrame(frame);
          continue;
        }
        const { header } = frame;
        let refusal: string | undefined;
        let hello: HelloMessage | undefined;
        if (header.type === "figures" && tokenMatches(header.token, options.token)) {
          refused = true;
          link.end(encodeFrame<FiguresMessage>({ type: "figures", publicPort: options.figures() }));
          return;
        }
        if (header.type === "figures") refusal = "it asked for figures without the cluster token";
        else if (header.type !== "hello") refusal = `its first frame is '${header.type}', not 'hello'`;
        else if (!tokenMatches(header.token, options.token)) refusal = `it claimed SPU ${Number(header.spuId)} without the cluster token`;
        else refusal = options.refuse?.((hello = readHello(header)));
        if (refusal !== undefined) {
          log(`refused a ${options.kind} from ${link.remoteAddress}: ${refusal}`);
          refused = true;
          link.end(encodeFrame<RefusedMessage>({ type: "refused", reason: refusal }));
          return;
        }
        onFrame = options.accepted(hello ?? readHello(header));
      }
    } catch (error) {
      log(`dropped a ${options.kind} from ${link.remoteAddress}: ${(error as Error).message}`);
      link.destroy();
    }
  });
  link.on("error", () => link.destroy());
}

export interface HelloClientOptions {
  spuId: number;
  token: string;
  /** Who is dialled, for log lines: "SC 127.0.0.1:9004", "leader SPU 5001". */
  peer: string;
  /** Who dials, for log lines: "SPU 5002", "replica 'topic-0'". */
  self: string;
  /** Runs on each new link once its hello is sent. */
  opened?: (link: Link) => void;
  /** Every frame but `refused`; a frame it cannot take should throw, which drops the link. */
  onFrame: (frame: Frame, link: Link) => void;
  /** Runs when a link closes, before the next dial is scheduled. */
  closed?: () => void;
}

/** Redials start fast (a peer starting at the same moment) and slow down to this. */
const FIRST_REDIAL_MS = 5;
const MAX_REDIAL_MS = 250;

/**
 * Keeps one link to a peer open until stopped: dials, opens with a hello, and redials with a
 * capped exponential backoff whenever the link closes. A refusal is logged once per reason and
 * slows the redials to the cap; `answered()` (the peer accepted or served a request) makes the
 * next redial fast again and lets a later refusal be logged anew.
 */
export class HelloClient {
  readonly #address: { host: string; port: number };
  readonly #options: HelloClientOptions;
  readonly #backoff = new Backoff(FIRST_REDIAL_MS, MAX_REDIAL_MS);
  #link: Link | undefined;
  #lastRefusal = "";
  #stopped = false;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(address: { host: string; port: number }, options: HelloClientOptions) {
    this.#address = address;
    this.#options = options;
    this.#dial();
  }

  /** The current link; it may still be connecting, or closed and about to be redialled. */
  get link(): Link | undefined {
    return this.#link;
  }

  answered(): void {
    this.#backoff.reset();
    this.#lastRefusal = "";
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#link?.destroy();
  }

  #dial(): void {
    if (this.#stopped) return;
    const { peer, self } = this.#options;
    const link = connectLink(this.#address);
    const reader = new FrameReader();
    this.#link = link;
    link.on("connect", () => {
      link.write(encodeFrame<HelloMessage>({ type: "hello", spuId: this.#options.spuId, token: this.#options.token }));
      this.#options.opened?.(link);
    });
    link.on("data", (chunk) => {
      try {
        for (const frame of reader.push(chunk)) {
          if (frame.header.type !== "refused") {
            this.#options.onFrame(frame, link);
            continue;
          }
          const reason = String(frame.header.reason);
          if (reason !== this.#lastRefusal) log(`${peer} refused ${self}: ${reason}`);
          this.#lastRefusal = reason;
          this.#backoff.slowest();
        }
      } catch (error) {
        log(`${self} dropped its link to ${peer}: ${(error as Error).message}`);
        link.destroy();
      }
    });
    link.on("error", () => {});
    link.on("close", () => {
      if (this.#stopped) return;
      this.#options.closed?.();
      this.#timer = setTimeout(() => this.#dial(), this.#backoff.next());
    });
  }
}
