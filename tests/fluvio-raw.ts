/**
 * A raw client connection to a Fluvio public port, for tests that send bytes no real client
 * would: every answer by correlation id (a stream's answers share one), and whether the server
 * closed it.
 */
import { API_VERSIONS_KEY, API_VERSIONS_VERSION } from "../lib/engine/wire/fluvio/api-keys.ts";
import { encodeApiVersionsRequest } from "../lib/engine/wire/fluvio/api-versions.ts";
import { decodeResponse, encodeRequest, FrameSplitter, MIN_RESPONSE_BYTES, type RequestHeader } from "../lib/engine/wire/fluvio/framing.ts";
import type { Reader } from "../lib/engine/wire/fluvio/reader.ts";

/** How long `settle` waits for an answer or a close unless told. */
const ANSWER_WAIT_MS = 5_000;

export interface RawConnection {
  /** The last answer to each correlation id. */
  answers: Map<number, Reader>;
  /** Every answer to `correlationId`, in order. */
  answersTo(correlationId: number): Reader[];
  /** Whether the server closed the connection. */
  closed(): boolean;
  write(bytes: Uint8Array): void;
  /** Resolves once `correlationId` has `count` answers (default 1) or the server closed, or after `ms`. */
  settle(correlationId: number, ms?: number, count?: number): Promise<{ answered: boolean; closed: boolean }>;
  /** Resolves once the server closed, or after `ms`. */
  closedWithin(ms: number): Promise<boolean>;
  end(): void;
}

export async function openRaw(port: number): Promise<RawConnection> {
  const all = new Map<number, Reader[]>();
  const answers = new Map<number, Reader>();
  const splitter = new FrameSplitter({ minBytes: MIN_RESPONSE_BYTES });
  let closed = false;
  let endedByUs = false;
  let wake: (() => void) | undefined;
  const socket = await Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: {
      data(_socket, chunk) {
        for (const payload of splitter.push(new Uint8Array(chunk))) {
          const { correlationId, body } = decodeResponse(payload);
          answers.set(correlationId, body);
          all.set(correlationId, [...(all.get(correlationId) ?? []), body]);
        }
        wake?.();
      },
      close() {
        if (!endedByUs) closed = true;
        wake?.();
      },
      error() {},
    },
  });
  const waitFor = async (done: () => boolean, ms: number) => {
    const deadline = Date.now() + ms;
    while (!done() && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 20);
      });
    }
  };
  return {
    answers,
    answersTo: (correlationId) => all.get(correlationId) ?? [],
    closed: () => closed,
    write: (bytes) => void socket.write(bytes),
    async settle(correlationId, ms = ANSWER_WAIT_MS, count = 1) {
      await waitFor(() => (all.get(correlationId)?.length ?? 0) >= count || closed, ms);
      return { answered: (all.get(correlationId)?.length ?? 0) >= count, closed };
    },
    async closedWithin(ms) {
      await waitFor(() => closed, ms);
      return closed;
    },
    end() {
      endedByUs = true;
      socket.terminate();
    },
  };
}

/** ApiVersions as Fluvio's client sends it first on every connection. */
export function apiVersionsRequest(correlationId: number, clientId: string, override: Partial<RequestHeader> = {}): Buffer {
  return encodeRequest({ apiKey: API_VERSIONS_KEY, apiVersion: API_VERSIONS_VERSION, correlationId, clientId, ...override }, (writer) =>
    encodeApiVersionsRequest(writer, { clientVersion: "0.14.9", clientOs: "linux", clientArch: "x86_64" }, API_VERSIONS_VERSION),
  );
}
