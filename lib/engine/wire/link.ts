/**
 * The daemons' TCP links (SPU to SC, follower to leader) on Bun's native sockets, with the
 * small part of node:net's Socket that the engine uses: `on("connect" | "data" | "timeout" |
 * "error" | "close")`, `write`, `end`, `destroy`, `setTimeout`, `destroyed`, `remoteAddress`.
 * Bun's sockets send without Nagle's delay, as node:net's setNoDelay(true) did.
 *
 * NOTE: importing node:net costs every daemon about 7.5 MiB of resident memory (measured with
 * a bare Bun.serve process: 25 MiB, 32.5 MiB once node:net is loaded); Bun.listen and
 * Bun.connect cost nothing to load. A native socket may take only part of a write, so what it
 * does not take waits here, in order, until the socket drains.
 *
 * NOTE: the idle timeout is kept here, per link, and not with Bun's `socket.timeout(seconds)`.
 * That one (uSockets underneath) counts in sweeps of one timer per event loop, every 4 s: a
 * timeout of 1 to 4 s fires at the next sweep, anywhere from 0 to 4 s away; neither received
 * bytes nor writes restart it; and every socket due at a sweep fires in the same millisecond.
 * With it the SC closed every SPU session at once, every 4 s, however busy the sessions were.
 *
 * Bytes that arrive while a link has no "data" handler yet are held and handed to the first
 * one, so a server may load the code that reads a connection after accepting it.
 */
import type { Socket, TCPSocketListener } from "bun";

/** How late an idle check may run before it waits one more turn of I/O (see #checkIdle). */
const LATE_CHECK_MS = 50;

type Handlers = {
  connect: () => void;
  data: (chunk: Buffer) => void;
  timeout: () => void;
  error: (error: Error) => void;
  close: () => void;
};

/** One TCP connection, as the engine uses it. */
export class Link {
  destroyed = false;
  remoteAddress = "";
  #socket: Socket<Link> | undefined;
  #pending: Uint8Array[] = [];
  /** The bytes of #pending. */
  #pendingBytes = 0;
  #endWhenFlushed = false;
  #idleMs = 0;
  #lastReceivedAt = 0;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  #handlers: { [Event in keyof Handlers]: Handlers[Event][] } = { connect: [], data: [], timeout: [], error: [], close: [] };
  /** What arrived before the first "data" handler, in order. */
  #held: Buffer[] = [];

  on<Event extends keyof Handlers>(event: Event, handler: Handlers[Event]): this {
    this.#handlers[event].push(handler);
    // After the caller's other handlers are on, and before the socket's next bytes.
    if (event === "data" && this.#held.length > 0) queueMicrotask(() => this.#deliverHeld());
    return this;
  }

  /** Bytes written to this link that the peer has not taken yet (waiting here, not in the kernel). */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /** Sends `bytes` after anything still waiting; a no-op once the link is closed. */
  write(bytes: Uint8Array): void {
    if (this.destroyed) return;
    if (!this.#socket || this.#pending.length > 0) {
      this.#hold(bytes);
      return;
    }
    const written = this.#socket.write(bytes);
    if (written < 0) return this.destroy();
    if (written < bytes.length) this.#hold(bytes.subarray(written));
  }

  #hold(bytes: Uint8Array): void {
    this.#pending.push(bytes);
    this.#pendingBytes += bytes.length;
  }

  /** Sends `bytes` (if any) and everything waiting, then closes. */
  end(bytes?: Uint8Array): void {
    if (bytes) this.write(bytes);
    this.#endWhenFlushed = true;
    if (this.#socket && this.#pending.length === 0) this.#socket.end();
  }

  /** Closes at once, dropping anything not yet sent. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.#pending = [];
    this.#pendingBytes = 0;
    if (this.#socket) this.#socket.terminate();
    else this.#closed();
  }

  /**
   * Emits "timeout", once, when `milliseconds` pass in which this link received nothing
   * (counted from this call; 0 turns it off). Any byte received starts the count again; what
   * this side writes does not, so a peer gone silent is noticed however much is sent to it.
   * Each link has its own deadline: one silent link times out alone.
   */
  setTimeout(milliseconds: number): void {
    clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    this.#idleMs = milliseconds;
    if (milliseconds <= 0 || this.destroyed) return;
    this.#lastReceivedAt = performance.now();
    this.#checkIdleIn(milliseconds);
  }

  #checkIdleIn(milliseconds: number, recheck = false): void {
    const dueAt = performance.now() + milliseconds;
    this.#idleTimer = setTimeout(() => this.#checkIdle(dueAt, recheck), milliseconds);
  }

  #checkIdle(dueAt: number, recheck: boolean): void {
    this.#idleTimer = undefined;
    if (this.destroyed || this.#idleMs <= 0) return;
    const now = performance.now();
    const idle = now - this.#lastReceivedAt;
    if (idle < this.#idleMs) return this.#checkIdleIn(this.#idleMs - idle);
    // NOTE: a check that runs late means the event loop was busy, and the peer's bytes may be
    // waiting unread: look once more after a turn of I/O before calling the peer silent.
    if (!recheck && now - dueAt > LATE_CHECK_MS) return this.#checkIdleIn(LATE_CHECK_MS, true);
    for (const handler of this.#handlers.timeout) handler();
  }

  attach(socket: Socket<Link>): void {
    this.#socket = socket;
    this.remoteAddress = socket.remoteAddress;
    if (this.destroyed) {
      socket.terminate();
      return;
    }
    this.#flush();
  }

  #flush(): void {
    const socket = this.#socket!;
    while (this.#pending.length > 0) {
      const next = this.#pending[0]!;
      const written = socket.write(next);
      if (written < 0) return this.destroy();
      this.#pendingBytes -= Math.max(0, written);
      if (written < next.length) {
        this.#pending[0] = next.subarray(written);
        return;
      }
      this.#pending.shift();
    }
    if (this.#endWhenFlushed) socket.end();
  }

  #receive(chunk: Buffer): void {
    if (this.#handlers.data.length === 0) {
      this.#held.push(chunk);
      return;
    }
    // Held bytes go first: the socket's next bytes wait until the handlers have them.
    if (this.#held.length > 0) this.#deliverHeld();
    for (const handler of this.#handlers.data) handler(chunk);
  }

  #deliverHeld(): void {
    const held = this.#held;
    this.#held = [];
    for (const chunk of held) {
      if (this.destroyed) return;
      for (const handler of this.#handlers.data) handler(chunk);
    }
  }

  #closed(): void {
    this.destroyed = true;
    clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#held = [];
    for (const handler of this.#handlers.close.splice(0)) handler();
  }

  /** The socket handlers shared by every link: Bun declares them once per listener or connection. */
  static readonly socketHandlers = {
    open(socket: Socket<Link>) {
      socket.data.attach(socket);
      for (const handler of socket.data.#handlers.connect) handler();
    },
    data(socket: Socket<Link>, chunk: Buffer) {
      const link = socket.data;
      if (link.#idleMs > 0) link.#lastReceivedAt = performance.now();
      link.#receive(chunk);
    },
    drain(socket: Socket<Link>) {
      socket.data.#flush();
    },
    error(socket: Socket<Link>, error: Error) {
      for (const handler of socket.data.#handlers.error) handler(error);
    },
    close(socket: Socket<Link>) {
      socket.data.#closed();
    },
    connectError(socket: Socket<Link>, error: Error) {
      const link = socket.data;
      for (const handler of link.#handlers.error) handler(error);
      link.#closed();
    },
  };
}

/** Connects to `host:port`; the link emits "connect" once open, or "error" then "close". */
export function connectLink(address: { host: string; port: number }): Link {
  const link = new Link();
  Bun.connect<Link>({ hostname: address.host, port: address.port, data: link, socket: Link.socketHandlers }).catch(() => {
    // connectError has already told the link's handlers.
  });
  return link;
}

/** Listens on `host:port` (throws, naming it, if it cannot bind) and hands each accepted link to `onLink`. */
export function listenLinks(address: { host: string; port: number }, onLink: (link: Link) => void): TCPSocketListener<Link> {
  try {
    return listen(address, onLink);
  } catch (error) {
    throw new Error(`cannot listen on ${address.host}:${address.port}: ${(error as Error).message}`);
  }
}

function listen(address: { host: string; port: number }, onLink: (link: Link) => void): TCPSocketListener<Link> {
  return Bun.listen<Link>({
    hostname: address.host,
    port: address.port,
    socket: {
      ...Link.socketHandlers,
      open(socket) {
        socket.data = new Link();
        onLink(socket.data);
        Link.socketHandlers.open(socket);
      },
    },
  });
}
