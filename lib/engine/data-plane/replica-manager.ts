/**
 * The replicas of one SPU, kept equal to the SC's latest assignment: a replica the SC assigns is
 * opened (its log recovered, a torn tail cut and logged), one it no longer assigns is closed and
 * its data removed, and each follower replica fetches from its leader.
 *
 * A partition directory is `<data>/<topic>-<partition>` and holds `replica.json` naming the
 * topic's id: a directory left by an earlier topic of the same name (deleted while this SPU was
 * away) is removed rather than mistaken for the new one's, and one whose marker cannot be read
 * is left alone, its replica not opened (replica-marker.ts).
 *
 * NOTE: the replica code (replica.ts, follower-fetcher.ts and the storage under them) loads
 * with the first assignment that has a replica: an SPU of a cluster without topics never
 * needs it, and it costs each SPU process about 3 ms of CPU to load. An assignment that comes
 * while it loads waits for it; each is the whole set, so only the latest is applied.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { ensureDir, removePath, writeFileAtomic } from "../../base/files.ts";
import type { FollowerFetcher } from "./follower-fetcher.ts";
import { log } from "../daemon/log.ts";
import { REPORT_INTERVAL_MS } from "../wire/protocol.ts";
import { replicaKey, type IsrChange, type ReplicaAssignmentInfo, type ReplicaReport, type SpuAssignment } from "../model/replica-info.ts";
import type { Replica } from "./replica.ts";
import type { LogUpgradeError } from "../storage/log-upgrade.ts";
import { decideMarker, MARKER_FILE, readMarker } from "./replica-marker.ts";
import { partitionName } from "../model/topic-name.ts";

/** How often leaders look for followers that lag. */
const ISR_CHECK_INTERVAL_MS = 250;

/** The classes a replica is made of, loaded with the first assignment that has one. */
interface ReplicaCode {
  Replica: typeof Replica;
  FollowerFetcher: typeof FollowerFetcher;
  LogUpgradeError: typeof LogUpgradeError;
}

async function loadReplicaCode(): Promise<ReplicaCode> {
  const [{ Replica }, { FollowerFetcher }, { LogUpgradeError }] = await Promise.all([
    import("./replica.ts"),
    import("./follower-fetcher.ts"),
    import("../storage/log-upgrade.ts"),
  ]);
  return { Replica, FollowerFetcher, LogUpgradeError };
}

/** Every replica of this SPU, and the fetchers of those it follows. */
export class ReplicaManager {
  readonly #dataDir: string;
  readonly #selfId: number;
  readonly #token: string;
  readonly #report: (replicas: ReplicaReport[]) => void;
  readonly #proposeIsr: (change: IsrChange) => void;
  readonly #scConnected: () => boolean;
  readonly #replicas = new Map<string, Replica>();
  readonly #fetchers = new Map<string, FollowerFetcher>();
  /** Replicas not opened because their marker is unusable, with the problem last logged. */
  readonly #refused = new Map<string, string>();
  #reportTimer: ReturnType<typeof setTimeout> | undefined;
  #lastReportAt = 0;
  readonly #isrTimer: ReturnType<typeof setInterval>;
  #code: ReplicaCode | undefined;
  #loadingCode = false;
  /** The assignment waiting for the replica code. */
  #waiting: SpuAssignment | undefined;
  #closed = false;

  /**
   * `report` and `proposeIsr` tell the SC (dropped while it is away: the next assignment
   * resynchronises); `scConnected` says whether they would be delivered. `token` opens the
   * connections to the leaders this SPU follows.
   */
  constructor(options: {
    dataDir: string;
    selfId: number;
    token: string;
    report: (replicas: ReplicaReport[]) => void;
    proposeIsr: (change: IsrChange) => void;
    scConnected: () => boolean;
  }) {
    this.#dataDir = options.dataDir;
    this.#selfId = options.selfId;
    this.#token = options.token;
    this.#report = options.report;
    this.#proposeIsr = options.proposeIsr;
    this.#scConnected = options.scConnected;
    this.#isrTimer = setInterval(() => {
      for (const replica of this.#replicas.values()) replica.checkIsr();
    }, ISR_CHECK_INTERVAL_MS);
  }

  get(topic: string, partition: number): Replica | undefined {
    return this.#replicas.get(replicaKey(topic, partition));
  }

  /** Makes this SPU's replicas match `assignment`, then reports their offsets (once the replica code is loaded, if it needs it). */
  apply(assignment: SpuAssignment): void {
    if (this.#code || (assignment.replicas.length === 0 && !this.#loadingCode)) return this.#applyNow(assignment);
    this.#waiting = assignment;
    if (this.#loadingCode) return;
    this.#loadingCode = true;
    loadReplicaCode().then(
      (code) => {
        this.#code = code;
        const waiting = this.#waiting!;
        this.#waiting = undefined;
        if (!this.#closed) this.#applyNow(waiting);
      },
      (error: Error) => {
        this.#loadingCode = false;
        log(`cannot load the replica code, so no replica is opened until the next assignment: ${error.message}`);
      },
    );
  }

  #applyNow(assignment: SpuAssignment): void {
    const wanted = new Map(assignment.replicas.map((info) => [replicaKey(info.topic, info.partition), info]));
    for (const key of this.#refused.keys()) if (!wanted.has(key)) this.#refused.delete(key);
    for (const [key, replica] of this.#replicas) {
      const info = wanted.get(key);
      if (info?.topicId === replica.assignment.topicId) continue;
      this.#drop(key, replica);
    }
    for (const [key, info] of wanted) {
      const replica = this.#replicas.get(key) ?? this.#open(key, info);
      if (!replica) continue;
      replica.update(info);
      this.#follow(key, replica, assignment.spus);
    }
    this.#removeStrayDirs(new Set([...wanted.values()].map((info) => partitionName(info.topic, info.partition))));
    this.#sendReport();
  }

  /** Reports offsets to the SC: now if the last report is older than REPORT_INTERVAL_MS, else once it is. */
  scheduleReport(): void {
    if (this.#reportTimer) return;
    const wait = this.#lastReportAt + REPORT_INTERVAL_MS - Date.now();
    if (wait <= 0) this.#sendReport();
    else this.#reportTimer = setTimeout(() => this.#sendReport(), wait);
  }

  /** Stops fetching and closes every log (fsynced, high watermarks checkpointed). */
  closeAll(): void {
    this.#closed = true;
    clearInterval(this.#isrTimer);
    clearTimeout(this.#reportTimer);
    for (const fetcher of this.#fetchers.values()) fetcher.stop();
    for (const replica of this.#replicas.values()) replica.close();
  }

  #sendReport(): void {
    clearTimeout(this.#reportTimer);
    this.#reportTimer = undefined;
    this.#lastReportAt = Date.now();
    this.#report([...this.#replicas.values()].map((replica) => replica.report()));
  }

  /** Opens the replica `info` assigns, or logs why its directory's data is left alone and returns undefined. */
  #open(key: string, info: ReplicaAssignmentInfo): Replica | undefined {
    const name = partitionName(info.topic, info.partition);
    const dir = join(this.#dataDir, name);
    const decision = decideMarker(readMarker(dir), info.topicId);
    if (decision.kind === "refuse") {
      // Logged once per problem: every assignment until it is fixed asks again.
      if (this.#refused.get(key) !== decision.problem) log(`cannot open replica '${name}' and leaves '${dir}' alone: ${decision.problem}`);
      this.#refused.set(key, decision.problem);
      return undefined;
    }
    this.#refused.delete(key);
    if (decision.kind === "replace") {
      removePath(dir);
      ensureDir(dir);
      writeFileAtomic(join(dir, MARKER_FILE), `${JSON.stringify({ topic: info.topic, partition: info.partition, topicId: info.topicId })}\n`);
    }
    let replica: Replica;
    try {
      replica = this.#newReplica(dir, info, name);
    } catch (error) {
      if (!(error instanceof this.#code!.LogUpgradeError)) throw error;
      const problem = `${error.message}; its records stay as they are: move '${dir}' aside (the replica then starts empty and, as a follower, fetches from its leader) and run 'cluster resume'`;
      if (this.#refused.get(key) !== problem) log(`cannot open replica '${name}': ${problem}`);
      this.#refused.set(key, problem);
      return undefined;
    }
    if (replica.upgrade) {
      log(`converted '${name}' from the per-record format of earlier versions: ${replica.upgrade.records} record(s) kept as batches` +
        (replica.upgrade.tornBytes > 0 ? `, a torn end of ${replica.upgrade.tornBytes} byte(s) dropped` : ""));
    }
    const { recovery } = replica.log;
    if (recovery.truncatedBytes > 0) {
      log(
        `recovered '${name}': cut ${recovery.truncatedBytes} byte(s) off ${recovery.segment} (${recovery.reason}); ` +
          `${recovery.validEndOffset} whole record(s) kept`,
      );
    }
    log(`opened replica '${name}' (${info.leader === this.#selfId ? "leader" : `follower of SPU ${info.leader}`}), end offset ${replica.log.endOffset}`);
    this.#replicas.set(key, replica);
    return replica;
  }

  #newReplica(dir: string, info: ReplicaAssignmentInfo, name: string): Replica {
    const replica: Replica = new this.#code!.Replica(dir, info, this.#selfId, {
      proposeIsr: (isr) => {
        log(`leader of '${name}' asks the SC for in-sync set [${isr.join(", ")}]`);
        this.#proposeIsr({ topic: info.topic, partition: info.partition, leaderEpoch: replica.assignment.leaderEpoch, isr });
      },
      changed: () => this.scheduleReport(),
      scConnected: () => this.#scConnected(),
    });
    return replica;
  }

  #drop(key: string, replica: Replica): void {
    this.#fetchers.get(key)?.stop();
    this.#fetchers.delete(key);
    replica.close();
    this.#replicas.delete(key);
    removePath(replica.log.dir);
    log(`removed replica '${partitionName(replica.assignment.topic, replica.assignment.partition)}' and its data`);
  }

  /** Starts, restarts or stops the fetcher of `replica` to match its leader and epoch. */
  #follow(key: string, replica: Replica, spus: SpuAssignment["spus"]): void {
    const current = this.#fetchers.get(key);
    const { leader, leaderEpoch } = replica.assignment;
    if (current && !replica.isLeader && current.leader === leader && current.leaderEpoch === leaderEpoch) return;
    current?.stop();
    this.#fetchers.delete(key);
    if (replica.isLeader) return;
    const endpoint = spus.find((spu) => spu.id === leader);
    if (!endpoint) {
      log(`replica '${key}' has leader SPU ${leader}, whose endpoint the SC did not send`);
      return;
    }
    this.#fetchers.set(
      key,
      new this.#code!.FollowerFetcher({
        replica,
        selfId: this.#selfId,
        token: this.#token,
        leaderAddress: { host: endpoint.host, port: endpoint.privatePort },
        changed: () => this.scheduleReport(),
      }),
    );
  }

  /** Removes partition directories (those holding a marker) that no assignment names. */
  #removeStrayDirs(keep: Set<string>): void {
    let entries: string[];
    try {
      entries = readdirSync(this.#dataDir);
    } catch {
      return;
    }
    for (const entry of entries) {
      // Only a directory whose marker names a topic is a partition's: anything else stays.
      if (keep.has(entry) || readMarker(join(this.#dataDir, entry)).kind !== "topic") continue;
      removePath(join(this.#dataDir, entry));
      log(`removed '${entry}': no longer assigned to this SPU`);
    }
  }
}
