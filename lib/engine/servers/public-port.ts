/**
 * The limits of the public ports (Fluvio's protocol, which carries no credentials, so any local
 * process may connect), and the one place that reads a public connection's bytes into frames
 * under them. The SC's port and each SPU's hold one PublicPort each.
 *
 * - The largest frame: a size prefix past it closes the connection before any of that frame
 *   is held. Fluvio's own framing (fluvio-protocol src/codec/mod.rs) takes any i32 size; what
 *   bounds a request there is its SPU's largest batch, 32 MiB (STORAGE_MAX_BATCH_SIZE in
 *   fluvio-types src/defaults.rs at v0.11.11, STORAGE_MAX_REQUEST_SIZE since), answered
 *   MessageTooLarge. The SPU's port reads a request of that batch; the SC's, object requests.
 * - A deadline per frame: a frame (and a connection's first request, counted from its
 *   opening) not whole within FRAME_DEADLINE_MS closes its connection. Nothing else times out:
 *   a connection between requests may stay idle as long as its client likes (a Fluvio client
 *   keeps its SC connection open for watches and sends nothing more on it).
 * - A cap on the bytes of frames not yet whole, across all the port's connections, each frame
 *   counted at the size its prefix gives (what it will hold once whole, not yet what has come):
 *   past it, connections are closed, the one whose frame began first first, until the rest
 *   fit. A client's fresh request so wins over frames trickled in for longer. Counted as
 *   received bytes, the cap let 50 trickled frames take an SPU to 160-200 MiB resident: each
 *   frame closed was garbage the collector had not yet taken. Counted at their sizes, the
 *   frames past the cap are closed as their prefixes arrive, before they hold anything.
 * - A cap on open connections: one past it is closed as it opens.
 *
 * Every closing is logged (refusals at most once per LOG_INTERVAL_MS, with a count) and
 * counted in `figures()`, which `cluster status --json` shows (wire/handshake.ts).
 */
import { log } from "../daemon/log.ts";
import type { Link } from "../wire/link.ts";
import type { PublicPortFigures } from "../wire/protocol.ts";
import { FrameSplitter, MIN_REQUEST_BYTES } from "../wire/fluvio/framing.ts";

/** Fluvio's largest batch (see above): the SPU reads one produce of it. */
export const FLUVIO_MAX_BATCH_BYTES = 33_554_432;
/** Room around that batch in its produce request: header, client id, topic name, partition entry. */
const PRODUCE_ENVELOPE_BYTES = 64 * 1024;
/**
 * A frame that is not whole this long after its first byte (a connection's first request:
 * after its opening) closes its connection. The largest frame crosses loopback in well under
 * a second on a loaded machine; a frame trickled in for longer holds memory for nothing.
 */
export const FRAME_DEADLINE_MS = 5_000;
/**
 * Open connections per public port. A Fluvio client opens one to the SC and one to each SPU it
 * produces to or reads from, so a local cluster's clients need tens; each costs a file
 * descriptor and about 10 KiB (1,000 idle ones took a daemon from 41 to 51 MiB resident), so
 * this many keep a daemon near 80 MiB.
 */
export const MAX_PUBLIC_CONNECTIONS = 4_096;

export interface PublicPortLimits {
  /** The largest request payload read; a size prefix past it closes the connection at once. */
  maxFrameBytes: number;
  /** The most bytes of frames not yet whole across all the port's connections, each at the size its prefix gives. */
  maxPendingBytes: number;
  maxConnections: number;
  frameDeadlineMs: number;
}

/** The SC's public port. */
export const SC_PUBLIC_LIMITS: PublicPortLimits = {
  // Object API requests are small (a topic's create is under 1 KiB); Fluvio's SC has no limit.
  maxFrameBytes: 1024 * 1024,
  // Eight of the largest at once: the SC's clients send a few small requests each.
  maxPendingBytes: 8 * 1024 * 1024,
  maxConnections: MAX_PUBLIC_CONNECTIONS,
  frameDeadlineMs: FRAME_DEADLINE_MS,
};

/** An SPU's public port. */
export const SPU_PUBLIC_LIMITS: PublicPortLimits = {
  maxFrameBytes: FLUVIO_MAX_BATCH_BYTES + PRODUCE_ENVELOPE_BYTES,
  // One largest produce and 8 MiB beside it, so an SPU stays far below 150 MB resident however
  // many connections trickle frames (a whole frame is copied once more as it completes).
  maxPendingBytes: FLUVIO_MAX_BATCH_BYTES + PRODUCE_ENVELOPE_BYTES + 8 * 1024 * 1024,
  maxConnections: MAX_PUBLIC_CONNECTIONS,
  frameDeadlineMs: FRAME_DEADLINE_MS,
};

/** A refusal is logged at most this often, with how many there were. */
const LOG_INTERVAL_MS = 10_000;
/** How late a deadline check may run before it waits one more turn of I/O (as link.ts's idle check). */
const LATE_CHECK_MS = 50;

interface Connection {
  link: Link;
  /** Bytes received that are not yet a whole frame. */
  held: number;
  /** What that frame will hold once whole (FrameSplitter.pendingFrameBytes). */
  pending: number;
  /** When the frame being received began (performance.now()), or null between frames. */
  frameStartedAt: number | null;
  deadline: ReturnType<typeof setTimeout> | undefined;
}

/** One public port's connections, under its limits. */
export class PublicPort {
  readonly #limits: PublicPortLimits;
  /** Open connections, in the order they opened. */
  readonly #connections = new Set<Connection>();
  #heldBytes = 0;
  #pendingBytes = 0;
  #closedPastDeadline = 0;
  #closedOverPendingBytes = 0;
  #refused = 0;
  #refusedUnlogged = 0;
  #refusalLoggedAt = -Infinity;

  constructor(limits: PublicPortLimits) {
    this.#limits = limits;
  }

  figures(): PublicPortFigures {
    return {
      connections: this.#connections.size,
      heldBytes: this.#heldBytes,
      pendingBytes: this.#pendingBytes,
      closedPastDeadline: this.#closedPastDeadline,
      closedOverPendingBytes: this.#closedOverPendingBytes,
      refusedConnections: this.#refused,
    };
  }

  /**
   * Reads `link`'s requests into `serve`, one whole payload at a time, under the limits. A
   * size prefix out of bounds, or `serve` throwing (a request that cannot be read has no answer
   * of a known shape), closes the connection.
   */
  serve(link: Link, serve: (payload: Uint8Array) => void): void {
    if (this.#connections.size >= this.#limits.maxConnections) return this.#refuse(link);
    const connection: Connection = { link, held: 0, pending: 0, frameStartedAt: null, deadline: undefined };
    this.#connections.add(connection);
    this.#beginFrame(connection);
    const splitter = new FrameSplitter({ minBytes: MIN_REQUEST_BYTES, maxBytes: this.#limits.maxFrameBytes });
    link.on("data", (chunk) => {
      if (link.destroyed) return;
      try {
        // NOTE: not copied: Bun gives each data event a buffer of its own, which the splitter may keep.
        const payloads = splitter.push(chunk);
        this.#received(connection, { held: splitter.buffered, pending: splitter.pendingFrameBytes }, payloads.length > 0);
        for (const payload of payloads) {
          if (link.destroyed) return;
          serve(payload);
        }
      } catch (error) {
        log(`closed a Fluvio client connection from ${link.remoteAddress}: ${(error as Error).message}`);
        link.destroy();
      }
    });
    link.on("error", () => link.destroy());
    link.on("close", () => this.#release(connection));
  }

  /** After bytes arrived: the frame not yet whole, if any (`held` of its `pending` bytes); `completed` says a frame became whole. */
  #received(connection: Connection, frame: { held: number; pending: number }, completed: boolean): void {
    this.#heldBytes += frame.held - connection.held;
    this.#pendingBytes += frame.pending - connection.pending;
    connection.held = frame.held;
    connection.pending = frame.pending;
    if (completed) this.#endFrame(connection);
    if (frame.held > 0 && connection.frameStartedAt === null) this.#beginFrame(connection);
    if (this.#pendingBytes > this.#limits.maxPendingBytes) this.#shed();
  }

  /** Closes connections with a frame not yet whole, the one whose frame began first first, until the rest fit under the cap. */
  #shed(): void {
    const holding = [...this.#connections].filter((connection) => connection.pending > 0);
    holding.sort((a, b) => a.frameStartedAt! - b.frameStartedAt!);
    for (const connection of holding) {
      if (this.#pendingBytes <= this.#limits.maxPendingBytes) return;
      this.#closedOverPendingBytes++;
      log(
        `closed a Fluvio client connection from ${connection.link.remoteAddress}: its frame of ${connection.pending} bytes (${connection.held} received) ` +
          `was begun first of frames of ${this.#pendingBytes} bytes in all, past this port's cap of ${this.#limits.maxPendingBytes}`,
      );
      this.#close(connection);
    }
  }

  #beginFrame(connection: Connection): void {
    connection.frameStartedAt = performance.now();
    this.#armDeadline(connection, this.#limits.frameDeadlineMs, false);
  }

  #endFrame(connection: Connection): void {
    connection.frameStartedAt = null;
    clearTimeout(connection.deadline);
    connection.deadline = undefined;
  }

  #armDeadline(connection: Connection, delayMs: number, recheck: boolean): void {
    const dueAt = performance.now() + delayMs;
    connection.deadline = setTimeout(() => this.#checkDeadline(connection, dueAt, recheck), delayMs);
  }

  #checkDeadline(connection: Connection, dueAt: number, recheck: boolean): void {
    connection.deadline = undefined;
    if (connection.frameStartedAt === null || connection.link.destroyed) return;
    // NOTE: a check that runs late means the event loop was busy, and the rest of the frame may
    // be waiting unread: look once more after a turn of I/O before calling the client slow.
    if (!recheck && performance.now() - dueAt > LATE_CHECK_MS) return this.#armDeadline(connection, LATE_CHECK_MS, true);
    this.#closedPastDeadline++;
    const deadlineMs = this.#limits.frameDeadlineMs;
    const why = connection.held > 0 ? `its frame was not whole within ${deadlineMs} ms (${connection.held} bytes so far)` : `it sent no request within ${deadlineMs} ms of opening`;
    log(`closed a Fluvio client connection from ${connection.link.remoteAddress}: ${why}`);
    this.#close(connection);
  }

  #close(connection: Connection): void {
    this.#release(connection);
    connection.link.destroy();
  }

  /** Forgets `connection` and the bytes it held; safe to call again. */
  #release(connection: Connection): void {
    if (!this.#connections.delete(connection)) return;
    this.#heldBytes -= connection.held;
    this.#pendingBytes -= connection.pending;
    connection.held = 0;
    connection.pending = 0;
    this.#endFrame(connection);
  }

  #refuse(link: Link): void {
    this.#refused++;
    this.#refusedUnlogged++;
    const now = performance.now();
    if (now - this.#refusalLoggedAt >= LOG_INTERVAL_MS) {
      log(`refused ${this.#refusedUnlogged} Fluvio client connection(s) as they opened: ${this.#connections.size} are open, this port's cap`);
      this.#refusalLoggedAt = now;
      this.#refusedUnlogged = 0;
    }
    link.destroy();
  }
}
