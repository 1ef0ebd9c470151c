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
 */
import type { Socket, TCPSocketListener } from "bun";

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
  #endWhenFlushed = false;
  #idleSeconds = 0;
  #handlers: { [Event in keyof Handlers]: Handlers[Event][] } = { connect: [], data: [], timeout: [], error: [], close: [] };

  on<Event extends keyof Handlers>(event: Event, handler: Handlers[Event]): this {
    this.#handlers[event].push(handler);
    return this;
  }

  /** Sends `bytes` after anything still waiting; a no-op once the link is closed. */
  write(bytes: Uint8Array): void {
    if (this.destroyed) return;
    if (!this.#socket || this.#pending.length > 0) {
      this.#pending.push(bytes);
      return;
    }
    const written = this.#socket.write(bytes);
    if (written < 0) return this.destroy();
    if (written < bytes.length) this.#pending.push(bytes.subarray(written));
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
    if (this.#socket) this.#socket.terminate();
    else this.#closed();
  }

  /** Emits "timeout" once the link has been idle for `milliseconds` (whole seconds, rounded up). */
  setTimeout(milliseconds: number): void {
    this.#idleSeconds = Math.ceil(milliseconds / 1000);
    this.#socket?.timeout(this.#idleSeconds);
  }

  attach(socket: Socket<Link>): void {
    this.#socket = socket;
    this.remoteAddress = socket.remoteAddress;
    if (this.#idleSeconds > 0) socket.timeout(this.#idleSeconds);
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
      if (written < next.length) {
        this.#pending[0] = next.subarray(written);
        return;
      }
      this.#pending.shift();
    }
    if (this.#endWhenFlushed) socket.end();
  }

  #closed(): void {
    this.destroyed = true;
    this.#pending = [];
    for (const handler of this.#handlers.close.splice(0)) handler();
  }

  /** The socket handlers shared by every link: Bun declares them once per listener or connection. */
  static readonly socketHandlers = {
    open(socket: Socket<Link>) {
      socket.data.attach(socket);
      for (const handler of socket.data.#handlers.connect) handler();
    },
    data(socket: Socket<Link>, chunk: Buffer) {
      for (const handler of socket.data.#handlers.data) handler(chunk);
    },
    drain(socket: Socket<Link>) {
      socket.data.#flush();
    },
    timeout(socket: Socket<Link>) {
      for (const handler of socket.data.#handlers.timeout) handler();
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
