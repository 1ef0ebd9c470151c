/**
 * A client connection in Fluvio's wire protocol, to an SC's or an SPU's public port, as
 * Fluvio's own client opens one: ApiVersions first, then any number of requests multiplexed by
 * correlation id, answered once (List, Create, Produce ...) or many times under one id (Watch,
 * StreamFetch). The CLI's admin client (admin.ts), produce and consume run on it.
 */
import type { Socket } from "bun";
import {
  API_VERSIONS_KEY,
  API_VERSIONS_VERSION,
  decodeApiVersionsResponse,
  decodeResponse,
  encodeApiVersionsRequest,
  encodeRequest,
  FrameSplitter,
  MIN_RESPONSE_BYTES,
  type ApiVersionKey,
  type Reader,
  type Writer,
} from "../engine/wire/fluvio/mod.ts";
import packageJson from "../../package.json" with { type: "json" };

const CLIENT_ID = "cluster";
/** Answers larger than this are refused: a consume asks for at most a few MiB at a time. */
const MAX_ANSWER_BYTES = 64 * 1024 * 1024;

/** Why a connection failed or closed: the caller names what it was talking to. */
export class FluvioConnectionError extends Error {}

type Waiter = { onAnswer: (body: Reader) => void; onClose: (error: Error) => void };

export class FluvioConnection {
  #socket: Socket<undefined> | undefined;
  readonly #waiters = new Map<number, Waiter>();
  /** Bytes the socket did not take yet, sent in order as it drains. */
  #pending: Uint8Array[] = [];
  #nextCorrelationId = 1;
  #closedError: Error | undefined;
  /** The API ranges the server advertised. */
  versions: readonly ApiVersionKey[] = [];

  private constructor() {}

  /** Connects to `address` and exchanges ApiVersions; rejects within `timeoutMs` if either fails. */
  static async open(address: { host: string; port: number }, timeoutMs: number): Promise<FluvioConnection> {
    const splitter = new FrameSplitter({ minBytes: MIN_RESPONSE_BYTES, maxBytes: MAX_ANSWER_BYTES });
    const connection = new FluvioConnection();
    connection.#socket = await withTimeout(
      Bun.connect<undefined>({
        hostname: address.host,
        port: address.port,
        socket: {
          data(_socket, chunk) {
            try {
              // A view, not a copy: each chunk Bun hands over is a buffer of its own, never reused.
              for (const payload of splitter.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength))) connection.#answer(payload);
            } catch (error) {
              connection.#fail(new FluvioConnectionError(`a malformed answer: ${(error as Error).message}`));
            }
          },
          drain() {
            connection.#flush();
          },
          close() {
            connection.#fail(new FluvioConnectionError("the connection closed"));
          },
          error(_socket, error) {
            connection.#fail(new FluvioConnectionError(error.message));
          },
        },
      }),
      timeoutMs,
      "connecting",
    ).catch((error) => {
      throw error instanceof FluvioConnectionError ? error : new FluvioConnectionError((error as Error).message);
    });
    // An open connection must not keep a command alive: a pending request's timer does that.
    connection.#socket.unref();
    try {
      const answer = await connection.request(API_VERSIONS_KEY, API_VERSIONS_VERSION, (writer) =>
        encodeApiVersionsRequest(writer, { clientVersion: packageJson.version, clientOs: process.platform, clientArch: process.arch }, API_VERSIONS_VERSION),
      { timeoutMs });
      connection.versions = decodeApiVersionsResponse(answer).apiKeys;
    } catch (error) {
      connection.close();
      throw error;
    }
    return connection;
  }

  /** The version to send for `apiKey`: the server's max, or undefined when it does not serve it. */
  versionOf(apiKey: number): number | undefined {
    return this.versions.find((entry) => entry.apiKey === apiKey)?.maxVersion;
  }

  /** Sends one request and resolves with the reader of its answer's body. */
  request(apiKey: number, version: number, writeBody: (writer: Writer) => void, options: { timeoutMs: number }): Promise<Reader> {
    return new Promise((resolve, reject) => {
      const id = this.#send(apiKey, version, writeBody, {
        onAnswer: (body) => {
          clearTimeout(timer);
          this.#waiters.delete(id);
          resolve(body);
        },
        onClose: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      const timer = setTimeout(() => {
        this.#waiters.delete(id);
        reject(new FluvioConnectionError(`no answer within ${options.timeoutMs / 1000}s`));
      }, options.timeoutMs);
    });
  }

  /** Sends a request answered many times (Watch, StreamFetch); `onAnswer` hears each answer until `cancel()`. */
  stream(apiKey: number, version: number, writeBody: (writer: Writer) => void, handlers: Waiter): { cancel(): void } {
    const id = this.#send(apiKey, version, writeBody, handlers);
    return { cancel: () => this.#waiters.delete(id) };
  }

  close(): void {
    this.#pending = [];
    this.#socket?.end();
    this.#fail(new FluvioConnectionError("the connection was closed"));
  }

  #send(apiKey: number, version: number, writeBody: (writer: Writer) => void, waiter: Waiter): number {
    const correlationId = this.#nextCorrelationId++;
    if (this.#closedError) {
      const error = this.#closedError;
      queueMicrotask(() => waiter.onClose(error));
      return correlationId;
    }
    this.#waiters.set(correlationId, waiter);
    this.#pending.push(encodeRequest({ apiKey, apiVersion: version, correlationId, clientId: CLIENT_ID }, writeBody));
    if (this.#pending.length === 1) this.#flush();
    return correlationId;
  }

  #flush(): void {
    while (this.#pending.length > 0) {
      const next = this.#pending[0]!;
      const written = this.#socket!.write(next);
      if (written < next.length) {
        if (written > 0) this.#pending[0] = next.subarray(written);
        return;
      }
      this.#pending.shift();
    }
  }

  #answer(payload: Uint8Array): void {
    const { correlationId, body } = decodeResponse(payload);
    this.#waiters.get(correlationId)?.onAnswer(body);
  }

  #fail(error: Error): void {
    if (this.#closedError) return;
    this.#closedError = error;
    const waiters = [...this.#waiters.values()];
    this.#waiters.clear();
    for (const waiter of waiters) waiter.onClose(error);
  }
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new FluvioConnectionError(`${what} took more than ${timeoutMs / 1000}s`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
