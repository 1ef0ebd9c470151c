/**
 * The replicas of one SPU, kept equal to the SC's latest assignment: a replica the SC assigns is
 * opened (its log recovered, a torn tail cut and logged), one it no longer assigns is closed and
 * its data removed, and each follower replica fetches from its leader.
 *
 * The SC sends the whole assignment when the session opens and then only what changed
 * (wire/protocol.ts). Both only update the target (the assignment as last told); the replicas
 * are brought to it in slices of at most SLICE_MS, each its own turn of the event loop, so an
 * assignment of a thousand new replicas (each a few file creations and fsyncs) never holds up
 * the heartbeat, a fetch or a produce for long. Work still waiting when a newer message comes
 * is done against the newer target, so only the latest assignment of a replica is applied.
 *
 * What goes back to the SC is gathered per turn too: a report holds only the replicas whose
 * figures changed since the last report (all of them after a whole assignment), and the
 * in-sync sets leaders ask for in one turn travel in one message.
 *
 * Retention runs every CLEANER_INTERVAL_MS, as Fluvio's cleaner does per replica: each replica
 * deletes its closed segments past its topic's retention time or beyond its maximum partition
 * size (partition-log.ts evictSegments), and reports its new size.
 *
 * A partition directory is `<data>/<topic>-<partition>` and holds `replica.json` naming the
 * topic's id: a directory left by an earlier topic of the same name (deleted while this SPU was
 * away) is removed rather than mistaken for the new one's, and one whose marker cannot be read
 * is left alone, its replica not opened (replica-marker.ts).
 *
 * NOTE: the replica code (replica.ts, follower-fetcher.ts and the storage under them) loads
 * with the first assignment that has a replica: an SPU of a cluster without topics never
 * needs it, and it costs each SPU process about 3 ms of CPU to load. Work that needs it waits
 * for it.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { ensureDir, removePath, writeFileAtomic } from "../../base/files.ts";
import type { FollowerFetcher } from "./follower-fetcher.ts";
import { log } from "../daemon/log.ts";
import { REPORT_INTERVAL_MS } from "../wire/protocol.ts";
import {
  replicaKey,
  type AssignmentChanges,
  type IsrChange,
  type RemovedReplica,
  type ReplicaAssignmentInfo,
  type ReplicaReport,
  type SpuAssignment,
} from "../model/replica-info.ts";
import type { Replica } from "./replica.ts";
import type { LogUpgradeError } from "../storage/log-upgrade.ts";
import { decideMarker, MARKER_FILE, readMarker } from "./replica-marker.ts";
import { partitionName } from "../model/topic-name.ts";

/** How often leaders look for followers that lag. */
const ISR_CHECK_INTERVAL_MS = 250;
/**
 * How often each replica applies its topic's retention. Far below Fluvio's shortest retention
 * (10 s), so a segment goes within a second of expiring; a pass only compares figures held in
 * memory until a segment is due.
 */
const CLEANER_INTERVAL_MS = 1_000;
/** The longest one slice of assignment work runs before the event loop gets a turn. */
const SLICE_MS = 10;

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

/** A report entry's figures, to tell whether they moved since last reported. */
function figures(report: ReplicaReport): string {
  return `${report.leaderEpoch} ${report.isLeader} ${report.endOffset} ${report.highWatermark} ${report.sizeBytes} ${report.highWatermarkKnown}`;
}

/** Every replica of this SPU, and the fetchers of those it follows. */
export class ReplicaManager {
  readonly #dataDir: string;
  readonly #selfId: number;
  readonly #token: string;
  readonly #report: (replicas: ReplicaReport[]) => void;
  readonly #proposeIsr: (changes: IsrChange[]) => void;
  readonly #scConnected: () => boolean;
  readonly #partitionsDeleted: ((removed: RemovedReplica[]) => void) | undefined;
  readonly #replicas = new Map<string, Replica>();
  readonly #fetchers = new Map<string, FollowerFetcher>();
  /** Replicas not opened because their marker is unusable, with the problem last logged. */
  readonly #refused = new Map<string, string>();
  /** The assignment as the SC last told it, by replica key. */
  #target = new Map<string, ReplicaAssignmentInfo>();
  #spus: SpuAssignment["spus"] = [];
  #consumerOffsetLeader: number | null = null;
  /** Replicas to bring to the target. */
  readonly #unapplied = new Set<string>();
  /** A whole assignment came: once it is applied, stray directories go and every replica is reported. */
  #wholePending = false;
  #working = false;
  /** Replicas whose figures may have moved since the last report, and what each last reported. */
  readonly #unreported = new Set<string>();
  readonly #reported = new Map<string, string>();
  #reportTimer: ReturnType<typeof setTimeout> | undefined;
  #lastReportAt = 0;
  /** In-sync sets asked for in this turn, by replica key. */
  readonly #asks = new Map<string, IsrChange>();
  readonly #isrTimer: ReturnType<typeof setInterval>;
  readonly #cleanerTimer: ReturnType<typeof setInterval>;
  /** The last failure of each replica's retention, so each is logged once. */
  readonly #cleanerFailures = new Map<string, string>();
  #code: ReplicaCode | undefined;
  #loadingCode = false;
  #closed = false;

  /**
   * `report` and `proposeIsr` tell the SC (dropped while it is away: the next assignment
   * resynchronises); `scConnected` says whether they would be delivered. `token` opens the
   * connections to the leaders this SPU follows. `partitionsDeleted` hears of the partitions
   * the SC says were deleted (the consumer-offset leader hears of every one, to drop their offsets).
   */
  constructor(options: {
    dataDir: string;
    selfId: number;
    token: string;
    report: (replicas: ReplicaReport[]) => void;
    proposeIsr: (changes: IsrChange[]) => void;
    scConnected: () => boolean;
    partitionsDeleted?: (removed: RemovedReplica[]) => void;
  }) {
    this.#dataDir = options.dataDir;
    this.#partitionsDeleted = options.partitionsDeleted;
    this.#selfId = options.selfId;
    this.#token = options.token;
    this.#report = options.report;
    this.#proposeIsr = options.proposeIsr;
    this.#scConnected = options.scConnected;
    this.#isrTimer = setInterval(() => {
      for (const replica of this.#replicas.values()) replica.checkIsr();
    }, ISR_CHECK_INTERVAL_MS);
    this.#cleanerTimer = setInterval(() => this.#applyRetention(), CLEANER_INTERVAL_MS);
  }

  /** Deletes what each replica's retention no longer keeps, logs it, and reports the replica's new size and start. */
  #applyRetention(): void {
    for (const [key, replica] of this.#replicas) {
      const { topic, partition } = replica.assignment;
      let start: number | null;
      try {
        start = replica.applyRetention();
      } catch (error) {
        const problem = (error as Error).message;
        if (this.#cleanerFailures.get(key) !== problem) log(`retention of '${partitionName(topic, partition)}' failed: ${problem}; tried again every ${CLEANER_INTERVAL_MS / 1000}s`);
        this.#cleanerFailures.set(key, problem);
        continue;
      }
      this.#cleanerFailures.delete(key);
      if (start === null) continue;
      log(`retention of '${partitionName(topic, partition)}' deleted its segments below offset ${start}`);
      this.#changed(key);
    }
  }

  get(topic: string, partition: number): Replica | undefined {
    return this.#replicas.get(replicaKey(topic, partition));
  }

  /** The SPU leading the consumer-offset partition as the SC last said, or null when it has none. */
  get consumerOffsetLeader(): number | null {
    return this.#consumerOffsetLeader;
  }

  /** Where SPU `id`'s private port is, as the SC last said, or undefined for an SPU it did not name. */
  privateEndpointOf(id: number): { host: string; port: number } | undefined {
    const endpoint = this.#spus.find((spu) => spu.id === id);
    return endpoint && { host: endpoint.host, port: endpoint.privatePort };
  }

  /** True while replicas wait to be brought to the SC's latest assignment. */
  get applying(): boolean {
    return this.#unapplied.size > 0 || this.#wholePending;
  }

  /** Makes this SPU's replicas match the whole `assignment` (in slices), then reports every replica. */
  apply(assignment: SpuAssignment): void {
    for (const key of this.#target.keys()) this.#unapplied.add(key);
    for (const key of this.#replicas.keys()) this.#unapplied.add(key);
    this.#target = new Map(assignment.replicas.map((info) => [replicaKey(info.topic, info.partition), info]));
    for (const key of this.#target.keys()) this.#unapplied.add(key);
    this.#spus = assignment.spus;
    this.#consumerOffsetLeader = assignment.consumerOffsetLeader ?? null;
    this.#wholePending = true;
    this.#work();
  }

  /** Takes what changed of the assignment: each replica named is brought to it (in slices) and reported if its figures moved. */
  applyChanges(changes: AssignmentChanges): void {
    if (changes.spus) this.#spus = changes.spus;
    if (changes.consumerOffsetLeader !== undefined) this.#consumerOffsetLeader = changes.consumerOffsetLeader;
    for (const info of changes.replicas) {
      const key = replicaKey(info.topic, info.partition);
      this.#target.set(key, info);
      this.#unapplied.add(key);
    }
    if (changes.removed.length > 0) this.#partitionsDeleted?.(changes.removed);
    for (const removed of changes.removed) {
      const key = replicaKey(removed.topic, removed.partition);
      if (this.#target.get(key)?.topicId !== removed.topicId) continue;
      this.#target.delete(key);
      this.#unapplied.add(key);
    }
    this.#work();
  }

  /** Does a slice of the waiting work now, and schedules the next slice while work is left. */
  #work(): void {
    if (this.#working || this.#closed) return;
    if (!this.#code && [...this.#unapplied].some((key) => this.#target.has(key))) return this.#loadCode();
    const deadline = performance.now() + SLICE_MS;
    for (const key of this.#unapplied) {
      this.#unapplied.delete(key);
      this.#applyOne(key);
      if (performance.now() > deadline) break;
    }
    if (this.#unapplied.size > 0) {
      this.#working = true;
      setImmediate(() => {
        this.#working = false;
        this.#work();
      });
      return;
    }
    if (this.#wholePending) {
      this.#wholePending = false;
      this.#removeStrayDirs(new Set([...this.#target.values()].map((info) => partitionName(info.topic, info.partition))));
      this.#reported.clear();
      for (const key of this.#replicas.keys()) this.#unreported.add(key);
      this.#sendReport({ evenEmpty: true });
      return;
    }
    this.scheduleReport();
  }

  #loadCode(): void {
    if (this.#loadingCode) return;
    this.#loadingCode = true;
    loadReplicaCode().then(
      (code) => {
        this.#code = code;
        this.#work();
      },
      (error: Error) => {
        this.#loadingCode = false;
        log(`cannot load the replica code, so no replica is opened until the next assignment: ${error.message}`);
      },
    );
  }

  /** Brings replica `key` to its target: opened and updated, or closed and removed. */
  #applyOne(key: string): void {
    const info = this.#target.get(key);
    const replica = this.#replicas.get(key);
    if (!info) this.#refused.delete(key);
    if (replica && info?.topicId !== replica.assignment.topicId) this.#drop(key, replica);
    if (!info) return;
    const current = this.#replicas.get(key) ?? this.#open(key, info);
    if (!current) return;
    current.update(info);
    this.#follow(key, current, this.#spus);
    this.#unreported.add(key);
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
    clearInterval(this.#cleanerTimer);
    clearTimeout(this.#reportTimer);
    for (const fetcher of this.#fetchers.values()) fetcher.stop();
    for (const replica of this.#replicas.values()) replica.close();
  }

  /** Sends the replicas whose figures moved since they were last reported; when none did, nothing, unless `evenEmpty` (a whole assignment is answered). */
  #sendReport(options: { evenEmpty?: boolean } = {}): void {
    clearTimeout(this.#reportTimer);
    this.#reportTimer = undefined;
    const entries: ReplicaReport[] = [];
    for (const key of this.#unreported) {
      const report = this.#replicas.get(key)?.report();
      if (!report) continue;
      const shown = figures(report);
      if (this.#reported.get(key) === shown) continue;
      this.#reported.set(key, shown);
      entries.push(report);
    }
    this.#unreported.clear();
    if (entries.length === 0 && !options.evenEmpty) return;
    this.#lastReportAt = Date.now();
    this.#report(entries);
  }

  /** A replica's figures may have moved: report it soon. */
  #changed(key: string): void {
    this.#unreported.add(key);
    this.scheduleReport();
  }

  /** Gathers the in-sync sets asked for in this turn into one message. */
  #ask(key: string, change: IsrChange): void {
    if (this.#asks.size === 0) {
      setImmediate(() => {
        const changes = [...this.#asks.values()];
        this.#asks.clear();
        if (!this.#closed) this.#proposeIsr(changes);
      });
    }
    this.#asks.set(key, change);
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
      replica = this.#newReplica(dir, info, name, key);
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
    const { recovery } = replica;
    if (recovery.truncatedBytes > 0) {
      log(
        `recovered '${name}': cut ${recovery.truncatedBytes} byte(s) off ${recovery.segment} (${recovery.reason}); ` +
          `${recovery.validEndOffset} whole record(s) kept`,
      );
    }
    log(`opened replica '${name}' (${info.leader === this.#selfId ? "leader" : `follower of SPU ${info.leader}`}), end offset ${replica.endOffset}`);
    this.#replicas.set(key, replica);
    return replica;
  }

  #newReplica(dir: string, info: ReplicaAssignmentInfo, name: string, key: string): Replica {
    const replica: Replica = new this.#code!.Replica(dir, info, this.#selfId, {
      proposeIsr: (isr) => {
        log(`leader of '${name}' asks the SC for in-sync set [${isr.join(", ")}]`);
        this.#ask(key, { topic: info.topic, partition: info.partition, leaderEpoch: replica.assignment.leaderEpoch, isr });
      },
      changed: () => this.#changed(key),
      scConnected: () => this.#scConnected(),
    });
    return replica;
  }

  #drop(key: string, replica: Replica): void {
    this.#fetchers.get(key)?.stop();
    this.#fetchers.delete(key);
    replica.close();
    this.#replicas.delete(key);
    this.#reported.delete(key);
    this.#unreported.delete(key);
    removePath(replica.dir);
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
        changed: () => this.#changed(key),
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
