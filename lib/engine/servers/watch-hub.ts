/**
 * Fluvio's Watch on the SC's public port, for every watcher at once, as Fluvio's SC serves it
 * (fluvio-sc src/services/public_api/watch.rs, fluvio-stream-model src/epoch/): each object
 * type keeps a mirror of its objects in Fluvio's shapes, each with the epoch of its last
 * change, and one epoch for the type that moves once per batch of changes. A new watcher
 * gets every object (`all`) at the current epoch; after that every watcher gets only what
 * changed (`changes`: UPDATE with the object as it is, DELETE with the object as it was), at
 * most every WATCH_COALESCE_MS. A watcher that asks from an epoch it has seen (not 0) gets the
 * changes since, or everything when that epoch is too old to tell.
 *
 * Each batch is encoded once per protocol version for all watchers, and written to each as its
 * own 8 bytes (size, correlation id) and that shared body. A watcher that leaves more than
 * WATCH_BACKLOG_BYTES unread is cut off (its connection closed, and logged): a client that
 * stopped reading is not buffered without end. Work per change is one object's encoding, not
 * a snapshot of every object.
 */
import type { Changes, ChangeKind, Controller } from "../control-plane/controller.ts";
import { log } from "../daemon/log.ts";
import type { Link } from "../wire/link.ts";
import type { ObjectMetadata, ObjectType } from "../wire/fluvio/metadata.ts";
import { encodeWatchResponse, type MsgType, type WatchResponse } from "../wire/fluvio/object-api.ts";
import { customSpuMetadata, partitionMetadata, spuMetadata, topicMetadata } from "./sc-objects.ts";
import { Writer } from "../wire/fluvio/writer.ts";

/** Changes closer together than this go out in one watch answer. */
const WATCH_COALESCE_MS = 10;
/** A watcher with more than this unread is cut off. About 40 whole snapshots of 1,000 partitions. */
export const WATCH_BACKLOG_BYTES = 8 * 1024 * 1024;
/** Deleted objects remembered for watchers that resume from an epoch; past this, the oldest go and such a watcher gets everything. */
const MAX_TOMBSTONES = 10_000;

/** Which controller change refreshes the mirror of each type. */
const WATCHED_KIND: Record<ObjectType, ChangeKind> = { Topic: "Topic", Partition: "Partition", SPU: "SPU", CustomSpu: "SPU" };

type Item = ObjectMetadata[ObjectType];

interface Watcher {
  link: Link;
  correlationId: number;
  version: number;
  /** The epoch this watcher has been sent. */
  epoch: number;
}

/** The objects of one type as watchers see them, and its watchers. */
class Mirror {
  epoch = 1;
  /** Epochs at or below this are too old to answer with changes (tombstones were dropped). */
  #fence = 0;
  readonly #objects = new Map<string, { item: Item; epoch: number }>();
  readonly #deleted = new Map<string, { item: Item; epoch: number }>();
  readonly #pending = new Set<string>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly watchers = new Set<Watcher>();
  /** `all` at the current epoch, encoded, by version: many watchers connect at once. */
  #everything = new Map<number, Uint8Array>();

  constructor(
    readonly type: ObjectType,
    readonly lookup: (name: string) => Item | undefined,
    every: Item[],
  ) {
    for (const item of every) this.#objects.set(item.name, { item, epoch: this.epoch });
  }

  changed(names: ReadonlySet<string>): void {
    for (const name of names) this.#pending.add(name);
    if (this.#timer === undefined && this.watchers.size > 0) this.#timer = setTimeout(() => this.#flush(), WATCH_COALESCE_MS);
  }

  add(watcher: Watcher, fromEpoch: number): void {
    // Changes not yet sent go to the others first, so this watcher starts from the same epoch as they do.
    if (this.#pending.size > 0) this.#flush();
    this.watchers.add(watcher);
    if (fromEpoch > this.#fence && fromEpoch <= this.epoch) {
      if (fromEpoch < this.epoch) this.#send(watcher, this.#encode(this.#changesSince(fromEpoch), [], watcher.version));
    } else {
      let body = this.#everything.get(watcher.version);
      if (!body) this.#everything.set(watcher.version, (body = this.#encode([], [...this.#objects.values()].map((entry) => entry.item), watcher.version)));
      this.#send(watcher, body);
    }
    watcher.epoch = this.epoch;
  }

  remove(watcher: Watcher): void {
    this.watchers.delete(watcher);
    if (this.watchers.size === 0) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }

  #flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const previous = this.epoch;
    const changes: { msgType: MsgType; metadata: Item }[] = [];
    for (const name of this.#pending) {
      const item = this.lookup(name);
      const known = this.#objects.get(name);
      if (item) {
        changes.push({ msgType: "UPDATE", metadata: item });
        this.#objects.set(name, { item, epoch: previous + 1 });
        this.#deleted.delete(name);
      } else if (known) {
        changes.push({ msgType: "DELETE", metadata: known.item });
        this.#objects.delete(name);
        this.#deleted.set(name, { item: known.item, epoch: previous + 1 });
      }
    }
    this.#pending.clear();
    if (changes.length === 0) return;
    this.epoch = previous + 1;
    this.#everything.clear();
    this.#pruneTombstones();
    const encoded = new Map<number, Uint8Array>();
    for (const watcher of [...this.watchers]) {
      let body: Uint8Array | undefined;
      if (watcher.epoch === previous) {
        body = encoded.get(watcher.version);
        if (!body) encoded.set(watcher.version, (body = this.#encode(changes, [], watcher.version)));
      } else {
        body = this.#encode(this.#changesSince(watcher.epoch), [], watcher.version);
      }
      this.#send(watcher, body);
      watcher.epoch = this.epoch;
    }
  }

  #changesSince(epoch: number): { msgType: MsgType; metadata: Item }[] {
    const changes: { msgType: MsgType; metadata: Item }[] = [];
    for (const { item, epoch: changedAt } of this.#objects.values()) if (changedAt > epoch) changes.push({ msgType: "UPDATE", metadata: item });
    for (const { item, epoch: changedAt } of this.#deleted.values()) if (changedAt > epoch) changes.push({ msgType: "DELETE", metadata: item });
    return changes;
  }

  #pruneTombstones(): void {
    for (const [name, { epoch }] of this.#deleted) {
      if (this.#deleted.size <= MAX_TOMBSTONES) return;
      this.#deleted.delete(name);
      this.#fence = Math.max(this.#fence, epoch);
    }
  }

  #encode(changes: { msgType: MsgType; metadata: Item }[], all: Item[], version: number): Uint8Array {
    const writer = new Writer();
    encodeWatchResponse(writer, { type: this.type, epoch: this.epoch, changes, all } as WatchResponse, version);
    return writer.finish();
  }

  #send(watcher: Watcher, body: Uint8Array): void {
    const { link } = watcher;
    if (link.destroyed) return;
    const head = Buffer.allocUnsafe(8);
    head.writeInt32BE(4 + body.length, 0);
    head.writeInt32BE(watcher.correlationId, 4);
    link.write(head);
    link.write(body);
    if (link.pendingBytes > WATCH_BACKLOG_BYTES) {
      log(`cut off a Fluvio client from ${link.remoteAddress}: its watch of '${this.type}' left ${link.pendingBytes} bytes unread (the bound is ${WATCH_BACKLOG_BYTES})`);
      link.destroy();
    }
  }
}

/** Every watch of one SC's public port. */
export class WatchHub {
  readonly #controller: Controller;
  readonly #mirrors = new Map<ObjectType, Mirror>();

  constructor(controller: Controller) {
    this.#controller = controller;
    controller.onChange((changes) => this.#changed(changes));
  }

  /** Starts a watch of `type` for the request `correlationId` at `version` on `link`; returns its end. */
  watch(link: Link, request: { type: ObjectType; correlationId: number; version: number; epoch: number }): () => void {
    const mirror = this.#mirror(request.type);
    const watcher: Watcher = { link, correlationId: request.correlationId, version: request.version, epoch: 0 };
    mirror.add(watcher, request.epoch);
    return () => mirror.remove(watcher);
  }

  #changed(changes: Changes): void {
    for (const mirror of this.#mirrors.values()) {
      const names = changes[WATCHED_KIND[mirror.type]];
      if (names.size > 0) mirror.changed(names);
    }
  }

  /** The mirror of `type`, built from the controller when first watched. */
  #mirror(type: ObjectType): Mirror {
    let mirror = this.#mirrors.get(type);
    if (mirror) return mirror;
    const controller = this.#controller;
    const topic = (name: string) => {
      const found = controller.topicWithPartitions(name);
      return found && topicMetadata(found.topic, found.partitions.map((partition) => ({ partition: partition.spec.partition, replicas: partition.spec.replicas })));
    };
    switch (type) {
      case "SPU": {
        const lookup = (name: string) => {
          const spu = controller.spuView(name);
          return spu && spuMetadata(spu);
        };
        mirror = new Mirror(type, lookup, controller.listSpus().map(spuMetadata));
        break;
      }
      case "CustomSpu": {
        const lookup = (name: string) => {
          const spu = controller.spuView(name);
          return spu && customSpuMetadata(spu);
        };
        mirror = new Mirror(type, lookup, controller.listSpus().map(customSpuMetadata));
        break;
      }
      case "Topic":
        mirror = new Mirror(type, topic, controller.listTopics().flatMap((entry) => topic(entry.name) ?? []));
        break;
      case "Partition": {
        const lookup = (name: string) => {
          const view = controller.partitionView(name);
          return view && partitionMetadata(view, controller.topicWithPartitions(view.topic)?.topic);
        };
        mirror = new Mirror(type, lookup, controller.listPartitions().map((view) => partitionMetadata(view, controller.topicWithPartitions(view.topic)?.topic)));
        break;
      }
    }
    this.#mirrors.set(type, mirror);
    return mirror;
  }
}
