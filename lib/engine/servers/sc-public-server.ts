/**
 * The SC's public port in Fluvio's protocol: ApiVersions, then the object API (List, Watch,
 * Create, Delete) for Topic, Partition, SPU and CustomSpu, served from the controller. A Watch
 * is answered at once with every object of its type, and then with what changed, under its
 * correlation id (watch-hub.ts). A Create or Delete is answered once the change is written.
 *
 * An Update (1006) of a topic adds partitions as Fluvio's SC does (fluvio-sc
 * services/public_api/topic/update/), answering what it refuses with the Status Fluvio's SC
 * gives; an AddMirror is refused, as this cluster runs no mirrors. Mirroring (1005) is answered
 * with an error Status. Requests are decoded at the header's version, as Fluvio's SC does
 * (fluvio-dispatch.ts).
 * Bad input (an unknown API key, a frame that does not decode, a size prefix out of bounds)
 * closes that one connection: a request we cannot read has no answer of a known shape.
 * Nothing else is disturbed. Connections, frame sizes, frames
 * that do not complete and the bytes they hold are bounded as public-port.ts says.
 */
import type { TCPSocketListener } from "bun";
import type { Controller } from "../control-plane/controller.ts";
import { log } from "../daemon/log.ts";
import { AdminRefusal } from "../control-plane/topic-registry.ts";
import { topicNameProblem } from "../model/topic-name.ts";
import { listenLinks, type Link } from "../wire/link.ts";
import { API_VERSIONS_KEY, API_VERSIONS_VERSION, SC_API_KEY, SC_API_VERSIONS, type ApiVersionKey } from "../wire/fluvio/api-keys.ts";
import { NO_ERROR, type ErrorCode } from "../wire/fluvio/error-code.ts";
import type { RequestHeader } from "../wire/fluvio/framing.ts";
import { isObjectType, type ObjectType } from "../wire/fluvio/metadata.ts";
import {
  decodeCreateRequest,
  decodeDeleteRequest,
  decodeListRequest,
  decodeObjectNameRequest,
  decodeUpdateRequest,
  decodeWatchRequest,
  encodeEmptyListResponse,
  encodeEmptyWatchResponse,
  encodeListResponse,
  encodeMirroringStatus,
  encodeStatus,
  type ListResponse,
  type Status,
} from "../wire/fluvio/object-api.ts";
import type { Writer } from "../wire/fluvio/writer.ts";
import { fluvioDispatch, type Answer, type FluvioHandler } from "./fluvio-dispatch.ts";
import { PublicPort, SC_PUBLIC_LIMITS } from "./public-port.ts";
import type { Reader } from "../wire/fluvio/reader.ts";
import { customSpuMetadata, partitionMetadata, spuMetadata, topicMetadata } from "./sc-objects.ts";
import { WatchHub } from "./watch-hub.ts";

const API_VERSIONS: readonly ApiVersionKey[] = [{ apiKey: API_VERSIONS_KEY, minVersion: 0, maxVersion: API_VERSIONS_VERSION }, ...SC_API_VERSIONS];

/**
 * Every object of `type`, in Fluvio's shapes. Topics and partitions are those of system topics
 * when `system` is true and the others when not, as Fluvio's SC lists them.
 */
function snapshot(controller: Controller, type: ObjectType, system: boolean): ListResponse {
  switch (type) {
    case "SPU":
      return { type, items: controller.listSpus().map(spuMetadata) };
    case "CustomSpu":
      return { type, items: controller.listSpus().map(customSpuMetadata) };
    case "Topic": {
      const partitions = controller.listPartitions();
      const topics = controller.listTopics().filter((topic) => (topic.spec.system ?? false) === system);
      return { type, items: topics.map((topic) => topicMetadata(topic, partitions.filter((entry) => entry.topic === topic.name))) };
    }
    case "Partition": {
      const topics = new Map(controller.listTopics().map((topic) => [topic.name, topic]));
      const partitions = controller.listPartitions().filter((partition) => (topics.get(partition.topic)?.spec.system ?? false) === system);
      return { type, items: partitions.map((partition) => partitionMetadata(partition, topics.get(partition.topic))) };
    }
  }
}

/** The Fluvio error code for a controller refusal. */
function refusalCode(error: AdminRefusal, name: string): ErrorCode {
  switch (error.code) {
    case "TOPIC_INVALID":
      return { code: topicNameProblem(name) !== null ? "TopicInvalidName" : "TopicInvalidConfiguration" };
    case "TOPIC_EXISTS":
      return { code: "TopicAlreadyExists" };
    case "INSUFFICIENT_SPUS":
      // What Fluvio's SC answers when the SPUs cannot hold the replicas it asks for.
      return { code: "TopicError" };
    case "NO_TOPIC":
      return { code: "TopicNotFound" };
    case "SYSTEM_TOPIC":
      return { code: "SystemSpecUpdatingAttempt", objectKind: "topic", name };
    case "SPU_EXISTS":
      return { code: "SpuAlreadyExists" };
    case "NO_SPU":
      return { code: "SpuNotFound" };
  }
}

class ScPublicSession {
  readonly #link: Link;
  readonly #controller: Controller;
  readonly #watches: WatchHub;
  readonly #unwatch: (() => void)[] = [];

  constructor(link: Link, controller: Controller, watches: WatchHub, port: PublicPort) {
    this.#link = link;
    this.#controller = controller;
    this.#watches = watches;
    port.serve(link, fluvioDispatch({ advertised: API_VERSIONS, handlers: this.#handlers() }, link));
    link.on("close", () => {
      for (const unwatch of this.#unwatch.splice(0)) unwatch();
    });
  }

  #handlers(): Map<number, FluvioHandler> {
    return new Map<number, FluvioHandler>([
      [SC_API_KEY.list, (header, body, answer) => this.#list(header, body, answer)],
      [SC_API_KEY.watch, (header, body, answer) => this.#watch(header, body, answer)],
      [SC_API_KEY.create, (header, body, answer) => this.#create(header, body, answer)],
      [SC_API_KEY.delete, (header, body, answer) => this.#delete(header, body, answer)],
      [SC_API_KEY.update, (header, body, answer) => this.#update(header, body, answer)],
      [SC_API_KEY.mirroring, notServed(encodeMirroringStatus, "mirroring")],
    ]);
  }

  #list(header: RequestHeader, body: Reader, answer: Answer): void {
    const request = decodeListRequest(body, header.apiVersion);
    if (!isObjectType(request.type)) return answer((writer) => encodeEmptyListResponse(writer, request.type, header.apiVersion));
    const all = snapshot(this.#controller, request.type, request.system);
    const wanted = request.nameFilters;
    const items = wanted.length === 0 ? all.items : all.items.filter((item) => wanted.includes(item.name));
    answer((writer) => encodeListResponse(writer, { type: all.type, items } as ListResponse, header.apiVersion));
  }

  #watch(header: RequestHeader, body: Reader, answer: Answer): void {
    const request = decodeWatchRequest(body, header.apiVersion);
    const type = request.type;
    if (!isObjectType(type)) return answer((writer) => encodeEmptyWatchResponse(writer, type, 0, header.apiVersion));
    this.#unwatch.push(this.#watches.watch(this.#link, { type, correlationId: header.correlationId, version: header.apiVersion, epoch: request.epoch }));
  }

  #create(header: RequestHeader, body: Reader, answer: Answer): void {
    const request = decodeCreateRequest(body, header.apiVersion);
    const name = request.common.name;
    this.#status(answer, name, () => {
      if (request.common.dryRun) return { code: "InvalidCreateRequest", message: "dry runs are not supported by this SC" };
      if (request.type === "Topic") {
        const replicas = request.spec.replicas;
        if (replicas.type !== "Computed") return { code: "InvalidCreateRequest", message: `${replicas.type.toLowerCase()} replica assignment is not supported by this SC; ask for partitions and a replication factor` };
        const { spec } = request;
        if (spec.deduplication !== null) {
          // What Fluvio's SC answers when the deduplication SmartModule is not loaded: this SC runs none.
          return { code: "DeduplicationSmartModuleNotLoaded", message: "deduplication needs SmartModules, which this cluster does not run; create the topic without deduplication" };
        }
        return this.#controller
          .createTopic({
            name,
            partitions: replicas.partitions,
            replication: replicas.replicationFactor,
            compressionType: spec.compressionType,
            retentionSeconds: spec.cleanupPolicy?.timeInSeconds,
            segmentSize: spec.storage?.segmentSize ?? undefined,
            maxPartitionSize: spec.storage?.maxPartitionSize ?? undefined,
            system: spec.system,
          })
          .then(() => undefined);
      }
      if (request.type === "CustomSpu") {
        const { spec } = request;
        const ingress = spec.publicEndpoint.ingress[0];
        const host = ingress?.ip ?? ingress?.hostname ?? spec.privateEndpoint.host;
        this.#controller.registerSpu(spec.id, host, { publicPort: spec.publicEndpoint.port, privatePort: spec.privateEndpoint.port });
        return undefined;
      }
      return { code: "InvalidCreateRequest", message: `creating a '${request.label}' is not supported by this SC` };
    });
  }

  #delete(header: RequestHeader, body: Reader, answer: Answer): void {
    const request = decodeDeleteRequest(body, header.apiVersion);
    const key = request.key;
    const name = typeof key === "string" ? key : "name" in key ? key.name : String(key.id);
    this.#status(answer, name, () => {
      if (request.type === "Topic" && typeof key === "string") {
        if (!request.force && this.#controller.topicWithPartitions(key)?.topic.spec.system) {
          return { code: "SystemSpecDeletionAttempt", objectKind: "topic", name: key, message: `'${key}' is a system topic; it is deleted only when forced` };
        }
        return this.#controller.deleteTopic(key).then(() => undefined);
      }
      if (request.type === "CustomSpu" && typeof key !== "string") {
        const id = "id" in key ? key.id : this.#controller.listSpus().find((spu) => spu.name === key.name)?.spec.spuId;
        if (id === undefined) throw new AdminRefusal("NO_SPU", `no SPU is named '${name}'`);
        this.#controller.unregisterSpu(id);
        return undefined;
      }
      return { code: "InvalidDeleteRequest", message: `deleting a '${request.type}' is not supported by this SC` };
    });
  }

  /**
   * An Update: a topic's AddPartition adds partitions; what Fluvio's SC refuses (no such topic,
   * a system topic) is refused with its code and message, and a count of 0 changes nothing, as
   * there. An AddMirror is refused with Fluvio's answer for a remote cluster it does not know.
   */
  #update(header: RequestHeader, body: Reader, answer: Answer): void {
    const request = decodeUpdateRequest(body, header.apiVersion);
    if (request.type === "unsupported") {
      // Fluvio's SC updates only topics, and answers any other type so.
      const errorCode: ErrorCode = { code: "Other", message: "unknown admin object type" };
      return answer((writer) => encodeStatus(writer, { name: "update error", errorCode, errorMessage: null }));
    }
    const { key: name, action } = request;
    this.#status(answer, name, () => {
      const topic = this.#controller.topicWithPartitions(name)?.topic;
      if (!topic) return { code: "TopicNotFound", message: "not found" };
      if (action.type === "AddMirror") {
        return { code: "MirrorNotFound", message: `mirrors are not supported by this SC, so remote cluster '${action.remoteCluster}' is not found` };
      }
      if (topic.spec.system) return { code: "SystemSpecUpdatingAttempt", objectKind: "topic", name, message: null };
      return this.#controller.addPartitions(name, action.count).then(() => undefined);
    });
  }

  /**
   * Answers with a Status once `act` is done: it returns (or resolves to) undefined on success,
   * else an error; a controller refusal is mapped. Anything else it throws or rejects with is
   * a bug or a failed write: logged, and the connection closed, since no Status would be true.
   */
  #status(answer: Answer, name: string, act: () => Refusal | undefined | Promise<Refusal | undefined>): void {
    const reply = (refused: Refusal | undefined) => {
      const errorCode: ErrorCode = refused ? (({ message: _, ...code }) => code)(refused) : NO_ERROR;
      const errorMessage = refused ? refused.message : null;
      answer((writer) => encodeStatus(writer, { name, errorCode, errorMessage }));
    };
    const refusal = (error: unknown) => {
      if (!(error instanceof AdminRefusal)) throw error;
      answer((writer) => encodeStatus(writer, { name, errorCode: refusalCode(error, name), errorMessage: error.message }));
    };
    let result: Refusal | undefined | Promise<Refusal | undefined>;
    try {
      result = act();
    } catch (error) {
      return refusal(error);
    }
    if (!(result instanceof Promise)) return reply(result);
    result.then(reply, refusal).catch((error: Error) => {
      log(`closed a Fluvio client connection from ${this.#link.remoteAddress}: its request for '${name}' failed: ${error.message}`);
      this.#link.destroy();
    });
  }
}

/**
 * A handler for a key Fluvio's SC serves and this one does not: the request's type buffer is
 * read and answered with a Status (`encode` writes it in the answer's shape) naming what it asked,
 * with an error, so the client gets an answer and its connection goes on.
 */
function notServed(encode: (writer: Writer, status: Status) => void, what: string): FluvioHandler {
  return (header, body, answer) => {
    const request = decodeObjectNameRequest(body, header.apiVersion);
    const errorMessage = `${what} a '${request.label}' is not supported by this SC`;
    answer((writer) => encode(writer, { name: request.name, errorCode: { code: "Other", message: errorMessage }, errorMessage }));
  };
}

type Refusal =
  | { code: "InvalidCreateRequest" | "InvalidDeleteRequest" | "DeduplicationSmartModuleNotLoaded" | "TopicNotFound" | "MirrorNotFound"; message: string }
  | { code: "SystemSpecDeletionAttempt"; objectKind: string; name: string; message: string }
  | { code: "SystemSpecUpdatingAttempt"; objectKind: string; name: string; message: null };

/**
 * Serves Fluvio's SC protocol for `controller` on `address`, under the SC's public port limits
 * (public-port.ts); throws if it cannot bind.
 */
export function serveScPublic(controller: Controller, address: { host: string; port: number }): { listener: TCPSocketListener<Link>; port: PublicPort } {
  const watches = new WatchHub(controller);
  const port = new PublicPort(SC_PUBLIC_LIMITS);
  return { listener: listenLinks(address, (link) => new ScPublicSession(link, controller, watches, port)), port };
}
