/**
 * The real Fluvio client for tests: the native module (Fluvio's Rust client, fluvio 0.11.11,
 * through node-bindgen) inside the npm package @fluvio/client 0.14.9, a devDependency that
 * `npm ci` installs without running its own postinstall (package.json `allowScripts`).
 *
 * The package's TypeScript wrapper is not used: it is only built by that postinstall, and it
 * calls methods its native module does not have (`fetch`, `createCustomSpu`). The types below
 * describe the native objects as they are (fluvio-client-node v0.14.9, src/*.rs), and only the
 * methods the tests use.
 *
 * A missing or unloadable module throws: a test that needs the real client fails, never skips.
 */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

export const FLUVIO_CLIENT_PACKAGE = "@fluvio/client";

/** Where a consumer starts: `index` records after the beginning, or before the end. */
export interface Offset {
  index: number;
  from: "beginning" | "end";
}

/** One consumed record; key and value as bytes or as UTF-8 text. */
export interface FluvioRecord {
  hasKey(): boolean;
  key(): ArrayBuffer | null;
  value(): ArrayBuffer;
  keyString(): string | null;
  valueString(): string;
}

/** The next record of a `createStream` iterator; `value` and `done` are getters (node-bindgen gives None as null). */
export interface FluvioIterItem {
  readonly value: FluvioRecord | null;
  readonly done: boolean;
}

export interface FluvioRecordIterator {
  next(): Promise<FluvioIterItem>;
}

export interface FluvioPartitionConsumer {
  /** Starts a stream in the background and resolves at once; each record goes to `onRecord`, errors only to the client's log. */
  stream(offset: Offset, onRecord: (record: FluvioRecord) => void): Promise<void>;
  /** A stream read one record at a time; it rejects on a stream error. */
  createStream(offset: Offset): Promise<FluvioRecordIterator>;
}

/** What the native producer takes: text, or bytes as a view (Buffer, Uint8Array); a bare ArrayBuffer is refused under Bun. */
export type ProducerItem = string | ArrayBufferView;

export interface FluvioTopicProducer {
  send(key: ProducerItem, value: ProducerItem): Promise<void>;
  sendAll(records: [ProducerItem, ProducerItem][]): Promise<void>;
  flush(): Promise<void>;
}

/** A computed topic (the SC places the replicas); the native default of each field is 1, 1, false. */
export interface TopicReplicaParam {
  partitions: number;
  replicationFactor: number;
  ignoreRackAssignment?: boolean;
}

export interface FluvioAdmin {
  /** Resolves to the topic's name. */
  createTopic(topic: string, spec: TopicReplicaParam): Promise<string>;
  /** Resolves to the topic's name. */
  deleteTopic(topic: string): Promise<string>;
  /** The JSON text of `Metadata<TopicSpec>[]` as UTF-8 bytes (see `decodeList`). */
  listTopic(): Promise<ArrayBuffer>;
  /** The JSON text of `Metadata<PartitionSpec>[]` as UTF-8 bytes. */
  listPartitions(): Promise<ArrayBuffer>;
  /** The JSON text of `Metadata<SpuSpec>[]` as UTF-8 bytes. */
  listSpu(): Promise<ArrayBuffer>;
}

/** A connected client (`FluvioJS`). */
export interface FluvioClient {
  admin(): Promise<FluvioAdmin>;
  topicProducer(topic: string): Promise<FluvioTopicProducer>;
  partitionConsumer(topic: string, partition: number): Promise<FluvioPartitionConsumer>;
}

export interface FluvioNative {
  /**
   * Connects to the SC at `address` ("127.0.0.1:9003"); without an address, to the current
   * profile's cluster in Fluvio's config file (`$FLV_PROFILE_PATH`, else `~/.fluvio/config`).
   */
  connect(address?: string, useSpuLocalAddress?: boolean): Promise<FluvioClient>;
}

let loaded: FluvioNative | undefined;

/** The native module, loaded once; throws naming the install command when it is missing. */
export function loadFluvioClient(): FluvioNative {
  loaded ??= loadNative();
  return loaded;
}

function loadNative(): FluvioNative {
  const require = createRequire(import.meta.url);
  let packageJson: string;
  try {
    packageJson = require.resolve(`${FLUVIO_CLIENT_PACKAGE}/package.json`);
  } catch (error) {
    throw new Error(
      `the real Fluvio client is missing: '${FLUVIO_CLIENT_PACKAGE}' is not installed; run 'npm ci' in the repository`,
      { cause: error },
    );
  }
  const modulePath = join(dirname(packageJson), "dist", nativeDirectory(), "index.node");
  try {
    return require(modulePath) as FluvioNative;
  } catch (error) {
    throw new Error(`the real Fluvio client at '${modulePath}' cannot be loaded (${(error as Error).message}); run 'npm ci' in the repository`, {
      cause: error,
    });
  }
}

/** The package ships native builds for Linux and macOS only. */
function nativeDirectory(): string {
  if (process.platform === "linux" || process.platform === "darwin") return process.platform;
  throw new Error(`the real Fluvio client has no native build for '${process.platform}': use Linux or macOS`);
}

/** Decodes what `listTopic`, `listPartitions` and `listSpu` resolve to. */
export function decodeList(buffer: ArrayBuffer): unknown[] {
  return JSON.parse(new TextDecoder().decode(buffer));
}
