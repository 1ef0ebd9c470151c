/**
 * One Replica in process, on a real partition log in a temp directory, with its clock in the
 * test's hands: the high watermark as followers fetch, the in-sync set shrinking and growing, a
 * follower whose log leaves its leader's, and a full disk (a small tmpfs, where mounting is
 * allowed; elsewhere those tests are skipped with a message).
 */
import { afterEach, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setLogSink } from "../../../lib/engine/daemon/log.ts";
import { MAX_LAG_MS, Replica, ReplicaError } from "../../../lib/engine/data-plane/replica.ts";
import type { ReplicaAssignmentInfo } from "../../../lib/engine/model/replica-info.ts";
import type { EpochEntry } from "../../../lib/engine/storage/leader-epochs.ts";
import { batchOf, valuesOf } from "../../batches.ts";

const LEADER = 5001;
const logged: string[] = [];
setLogSink((line) => logged.push(line));
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "cluster-replica-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Partition t-0 on SPUs 5001-5003, led by 5001 at epoch 1, all in sync; `changes` replace any of it. */
function assigned(changes: Partial<ReplicaAssignmentInfo> = {}): ReplicaAssignmentInfo {
  return { topic: "t", topicId: "t-id", partition: 0, replicas: [5001, 5002, 5003], leader: LEADER, leaderEpoch: 1, isr: [5001, 5002, 5003], ...changes };
}

/** A replica of SPU `selfId` (the leader by default) in `dir` (a fresh one by default), on a clock the test moves, with the asks it makes of the SC. */
function makeReplica(options: { assignment?: ReplicaAssignmentInfo; selfId?: number; dir?: string } = {}) {
  const clock = { now: 1_000_000 };
  const asks: number[][] = [];
  const sc = { connected: true };
  const replica = new Replica(options.dir ?? tempDir(), options.assignment ?? assigned(), options.selfId ?? LEADER, {
    proposeIsr: (isr) => asks.push(isr),
    changed: () => {},
    scConnected: () => sc.connected,
    now: () => clock.now,
  });
  cleanups.push(() => replica.close());
  return { replica, clock, asks, sc };
}

/** How a produce has ended so far: not yet, acknowledged, or failed with `error`. */
function track(produced: Promise<unknown>): { state: "waiting" | "acked" | "failed"; error?: unknown } {
  const outcome: { state: "waiting" | "acked" | "failed"; error?: unknown } = { state: "waiting" };
  produced.then(
    () => (outcome.state = "acked"),
    (error) => Object.assign(outcome, { state: "failed", error }),
  );
  return outcome;
}

/** One turn of the event loop: the leader's fsync of what was produced runs in it. */
const turn = () => new Promise((resolve) => setImmediate(resolve));

/** Follower `id` fetches from `offset`, its log being `epochs` (the leader's, by default) up to there. */
function fetchAt(replica: Replica, id: number, offset: number, epochs: readonly EpochEntry[] = replica.epochs) {
  return replica.fetch({ replicaId: id, leaderEpoch: replica.assignment.leaderEpoch, offset, maxBytes: 1 << 20, waitMs: 0, epochs: [...epochs] });
}

/** The values a consumer reads from offset 0 now, waiting for none. */
async function consumed(replica: Replica): Promise<string[]> {
  return valuesOf((await replica.consume(0, { maxBytes: 1 << 20, waitMs: 0 })).bytes);
}

describe("Replica: the high watermark", () => {
  test.each([
    ["no follower has fetched the batch", [5001, 5002, 5003], [5001, 5002, 5003], [], 0],
    ["one of two in-sync followers holds the batch", [5001, 5002, 5003], [5001, 5002, 5003], [[5002, 3]], 0],
    ["one in-sync follower holds one record, the other all three", [5001, 5002, 5003], [5001, 5002, 5003], [[5002, 3], [5003, 1]], 1],
    ["both in-sync followers hold the batch", [5001, 5002, 5003], [5001, 5002, 5003], [[5002, 3], [5003, 3]], 3],
    ["a follower outside the in-sync set is not waited for", [5001, 5002, 5003], [5001, 5002], [[5002, 3]], 3],
    ["the leader is the only replica", [5001], [5001], [], 3],
  ] as const)("when %s, the high watermark is what every in-sync replica holds; a produce of 3 records is acknowledged, and seen by consumers, only at 3", async (_, replicas, isr, fetches, expected) => {
    const { replica } = makeReplica({ assignment: assigned({ replicas: [...replicas], isr: [...isr] }) });
    const produced = track(replica.produce(batchOf(["a", "b", "c"])));
    await turn();
    for (const [id, offset] of fetches) await fetchAt(replica, id, offset);
    await turn();
    expect(replica.highWatermark).toBe(expected);
    expect(produced.state).toBe(expected === 3 ? "acked" : "waiting");
    // Whole batches only: a batch not wholly below the high watermark is not served.
    expect(await consumed(replica)).toEqual(expected === 3 ? ["a", "b", "c"] : []);
  });

  test("a produce whose timeout passes first fails with PRODUCE_TIMEOUT, its batch kept in the log and acknowledged later", async () => {
    const { replica } = makeReplica();
    const produced = track(replica.produce(batchOf(["late"]), { timeoutMs: 20 }));
    await Bun.sleep(40);
    expect(produced.state).toBe("failed");
    expect((produced.error as ReplicaError).code).toBe("PRODUCE_TIMEOUT");
    expect(replica.endOffset).toBe(1);
    await fetchAt(replica, 5002, 1);
    await fetchAt(replica, 5003, 1);
    expect(replica.highWatermark).toBe(1);
    expect(await consumed(replica)).toEqual(["late"]);
  });
});

describe("Replica: telling followers the high watermark", () => {
  /** A leader that stored a-c, follower 5002 holding them, told a high watermark of 0. */
  async function leaderWithFollowerTold0() {
    const made = makeReplica();
    const produced = track(made.replica.produce(batchOf(["a", "b", "c"])));
    await turn();
    expect((await fetchAt(made.replica, 5002, 0)).highWatermark).toBe(0);
    return { ...made, produced };
  }

  const waitAtEnd = (leader: Replica, id: number) =>
    leader.fetch({ replicaId: id, leaderEpoch: 1, offset: 3, maxBytes: 1 << 20, waitMs: 60_000, epochs: [...leader.epochs] });

  test("a follower waiting at the end is answered, without records, as soon as the high watermark passes what it was told", async () => {
    const { replica: leader, produced } = await leaderWithFollowerTold0();
    const waiting = waitAtEnd(leader, 5002);
    await turn();
    await fetchAt(leader, 5003, 3);
    const answer = await waiting;
    expect([answer.highWatermark, answer.records.length, produced.state]).toEqual([3, 0, "acked"]);
  });

  test("a follower whose own fetch moves the high watermark is answered at once with it; told it, the next fetch waits for news", async () => {
    const { replica: leader } = await leaderWithFollowerTold0();
    await fetchAt(leader, 5003, 3);
    expect((await waitAtEnd(leader, 5002)).highWatermark).toBe(3);
    const next = track(waitAtEnd(leader, 5002));
    await turn();
    expect(next.state).toBe("waiting");
    const appended = track(leader.produce(batchOf(["d"])));
    await turn();
    await turn();
    expect([next.state, appended.state]).toEqual(["acked", "waiting"]);
  });
});

describe("Replica: the in-sync set", () => {
  const caughtUp = async (replica: Replica, ...ids: number[]) => {
    for (const id of ids) await fetchAt(replica, id, replica.endOffset);
  };

  test.each([
    ["every follower fetched MAX_LAG_MS ago", [] as number[][], async ({ clock }: Made) => void (clock.now += MAX_LAG_MS)],
    [
      "one follower has not caught up for longer than MAX_LAG_MS",
      [[5001, 5002]],
      async ({ replica, clock }: Made) => {
        clock.now += MAX_LAG_MS / 2;
        await caughtUp(replica, 5002);
        clock.now += MAX_LAG_MS / 2 + 1;
      },
    ],
    ["neither follower has caught up for longer than MAX_LAG_MS", [[5001]], async ({ clock }: Made) => void (clock.now += MAX_LAG_MS + 1)],
    [
      "a follower's only fetch connection closed, just now",
      [[5001, 5002]],
      async ({ replica }: Made) => {
        replica.followerConnected(5003);
        replica.followerDisconnected(5003);
      },
    ],
    [
      "a follower with two connections lost one",
      [],
      async ({ replica }: Made) => {
        replica.followerConnected(5003);
        replica.followerConnected(5003);
        replica.followerDisconnected(5003);
      },
    ],
  ])("when %s, the leader asks the SC for %j", async (_, expected, act) => {
    const made = makeReplica();
    await caughtUp(made.replica, 5002, 5003);
    await act(made);
    made.replica.checkIsr();
    made.replica.checkIsr();
    // An ask not answered yet is made once, however often the leader looks.
    expect(made.asks).toEqual(expected);
  });

  test("a follower outside the in-sync set is asked back in once it has fetched up to the high watermark", async () => {
    const { replica, asks } = makeReplica({ assignment: assigned({ isr: [5001, 5002] }) });
    const produced = track(replica.produce(batchOf(["a", "b"])));
    await turn();
    await fetchAt(replica, 5002, 2);
    await turn();
    expect(produced.state).toBe("acked");
    await fetchAt(replica, 5003, 0);
    expect(asks).toEqual([]);
    await fetchAt(replica, 5003, 2);
    expect(asks).toEqual([[5001, 5002, 5003]]);
  });

  test("a shrink asked for and not yet recorded holds the high watermark back; once the SC records it the produce is acknowledged", async () => {
    const { replica, clock, asks } = makeReplica();
    await caughtUp(replica, 5002, 5003);
    const produced = track(replica.produce(batchOf(["x"])));
    await turn();
    clock.now += MAX_LAG_MS / 2;
    await fetchAt(replica, 5002, 1);
    clock.now += MAX_LAG_MS / 2 + 1;
    replica.checkIsr();
    expect(asks).toEqual([[5001, 5002]]);
    // The SC still counts 5003 in sync: a leader that acknowledged without it could lose the record in an election.
    expect(replica.highWatermark).toBe(0);
    expect(produced.state).toBe("waiting");
    replica.update(assigned({ isr: [5001, 5002] }));
    expect(replica.highWatermark).toBe(1);
    await turn();
    expect(produced.state).toBe("acked");
  });

  test("while the SC is unreachable, a produce waiting on a shrink fails at once with SC_UNREACHABLE, and so does the next", async () => {
    const { replica, clock, sc } = makeReplica();
    await caughtUp(replica, 5002, 5003);
    sc.connected = false;
    const produced = track(replica.produce(batchOf(["x"])));
    await turn();
    clock.now += MAX_LAG_MS + 1;
    replica.checkIsr();
    await turn();
    expect(produced.state).toBe("failed");
    expect((produced.error as ReplicaError).code).toBe("SC_UNREACHABLE");
    await expect(replica.produce(batchOf(["y"]))).rejects.toMatchObject({ code: "SC_UNREACHABLE" });
  });
});

describe("Replica: a follower's log that leaves its leader's", () => {
  /** A leader that wrote offsets 0-4 under epoch 1 and 5-7 under epoch 2, 5002 following it out of sync. */
  async function leaderOfTwoEpochs(): Promise<Replica> {
    const { replica } = makeReplica({ assignment: assigned({ replicas: [5001, 5002], isr: [5001] }) });
    await replica.produce(batchOf(["a", "b", "c", "d", "e"]));
    replica.update(assigned({ replicas: [5001, 5002], isr: [5001], leaderEpoch: 2 }));
    await replica.produce(batchOf(["f", "g", "h"]));
    expect(replica.epochs).toEqual([
      [1, 0],
      [2, 5],
    ]);
    return replica;
  }

  test.each([
    ["holds the leader's epoch-1 records and no more", undefined, undefined, [[1, 0]], 5],
    ["holds the whole log, both epochs", undefined, undefined, [[1, 0], [2, 5]], 8],
    ["led epoch 1 on and wrote offsets 5 and 6 no one acknowledged", "DIVERGING", 5, [[1, 0]], 7],
    ["holds records of an epoch the leader never had", "DIVERGING", 0, [[0, 0]], 3],
  ] as const)("a follower that %s is answered with refusal %p, truncate to %p", async (_, refusal, truncateTo, epochs, offset) => {
    const leader = await leaderOfTwoEpochs();
    const answer = await fetchAt(leader, 5002, offset, epochs);
    expect(answer.refusal).toBe(refusal);
    expect(answer.truncateTo).toBe(truncateTo);
    expect(answer.records.length > 0).toBe(refusal === undefined && offset < 8);
  });

  test("a fetch under another leader epoch is FENCED, and one from a replica that does not lead is NOT_LEADER", async () => {
    const leader = await leaderOfTwoEpochs();
    const fenced = await leader.fetch({ replicaId: 5002, leaderEpoch: 1, offset: 0, maxBytes: 1024, waitMs: 0, epochs: [] });
    expect(fenced.refusal).toBe("FENCED");
    const { replica: follower } = makeReplica({ selfId: 5002, assignment: assigned({ replicas: [5001, 5002], isr: [5001] }) });
    expect((await fetchAt(follower, 5003, 0)).refusal).toBe("NOT_LEADER");
    await expect(follower.produce(batchOf(["no"]))).rejects.toMatchObject({ code: "NOT_LEADER" });
  });

  test("a follower appends what its leader sent with its epochs and high watermark, refuses records that do not continue its log, and cuts at a batch edge", async () => {
    const { replica: leader } = makeReplica({ assignment: assigned({ replicas: [5001, 5002], isr: [5001] }) });
    await leader.produce(batchOf(["a", "b"]));
    await leader.produce(batchOf(["c", "d", "e"]));
    const sent = await fetchAt(leader, 5002, 0);
    const { replica: follower } = makeReplica({ selfId: 5002, assignment: assigned({ replicas: [5001, 5002], isr: [5001] }) });

    follower.appendFromLeader(sent.records, { epochs: sent.epochs, highWatermark: sent.highWatermark });
    expect([follower.endOffset, follower.highWatermark, follower.epochs]).toEqual([5, 5, [[1, 0]]]);

    expect(() => follower.appendFromLeader(sent.records, { epochs: sent.epochs, highWatermark: sent.highWatermark })).toThrow("replicated batches rejected");
    expect(follower.endOffset).toBe(5);

    follower.truncateTo(3);
    // Offset 3 is inside the batch of offsets 2-4: the whole batch goes.
    expect([follower.endOffset, follower.highWatermark, follower.epochs]).toEqual([2, 2, [[1, 0]]]);
  });

  test("a follower that cannot write the leader's epochs for what it fetched keeps none of the records, so its next fetch acknowledges none", async () => {
    const { replica: leader } = makeReplica({ assignment: assigned({ replicas: [5001, 5002], isr: [5001] }) });
    await leader.produce(batchOf(["a", "b"]));
    const sent = await fetchAt(leader, 5002, 0);
    const dir = tempDir();
    const { replica: follower } = makeReplica({ dir, selfId: 5002, assignment: assigned({ replicas: [5001, 5002], isr: [5001] }) });
    // A directory where the history's temp file goes: its write fails as a real one would.
    const blocker = join(dir, `leader-epochs.${process.pid}.tmp`);
    mkdirSync(blocker);
    expect(() => follower.appendFromLeader(sent.records, { epochs: sent.epochs, highWatermark: sent.highWatermark })).toThrow();
    expect([follower.endOffset, follower.highWatermark, follower.epochs]).toEqual([0, 0, []]);
    rmSync(blocker, { recursive: true });
    follower.appendFromLeader(sent.records, { epochs: sent.epochs, highWatermark: sent.highWatermark });
    expect([follower.endOffset, follower.highWatermark, follower.epochs]).toEqual([2, 2, [[1, 0]]]);
  });
});

describe("Replica: a new leader's high watermark", () => {
  /**
   * Leader 5001 with followers 5002 and 5003 acknowledged records a-c; follower 5002 in `dir`
   * holds them with the high watermark of the answer that brought them (0) and stops before
   * the answer with the new one reaches it, so its checkpoint says 0.
   */
  async function followerThatMissedTheLastHighWatermark(dir: string): Promise<void> {
    const { replica: leader } = makeReplica();
    const produced = track(leader.produce(batchOf(["a", "b", "c"])));
    await turn();
    const sent = await fetchAt(leader, 5002, 0);
    await fetchAt(leader, 5003, 3);
    const { replica: follower } = makeReplica({ dir, selfId: 5002 });
    follower.appendFromLeader(sent.records, { epochs: sent.epochs, highWatermark: sent.highWatermark });
    await fetchAt(leader, 5002, 3);
    await turn();
    expect([produced.state, leader.highWatermark, follower.highWatermark]).toEqual(["acked", 3, 0]);
    follower.close();
    leader.close();
  }

  test("a follower elected leader with a high watermark behind what was acknowledged is not known until its followers fetch, then reads everything", async () => {
    const dir = tempDir();
    await followerThatMissedTheLastHighWatermark(dir);
    const { replica } = makeReplica({ dir, selfId: 5002, assignment: assigned({ leader: 5002, leaderEpoch: 2, isr: [5002, 5003] }) });
    // What a reader would see at once, and what the SC must not call online.
    expect([replica.highWatermark, replica.highWatermarkKnown, await consumed(replica)]).toEqual([0, false, []]);
    expect(replica.report()).toMatchObject({ isLeader: true, leaderEpoch: 2, endOffset: 3, highWatermark: 0, highWatermarkKnown: false });
    await fetchAt(replica, 5003, 3);
    expect([replica.highWatermark, replica.highWatermarkKnown, await consumed(replica)]).toEqual([3, true, ["a", "b", "c"]]);
    expect(replica.report()).toMatchObject({ highWatermark: 3, highWatermarkKnown: true });
  });

  test.each([
    ["it is the only in-sync replica", assigned({ leader: 5002, leaderEpoch: 2, isr: [5002] }), true],
    ["another in-sync replica has not fetched yet", assigned({ leader: 5002, leaderEpoch: 2, isr: [5002, 5003] }), false],
    ["it still follows", assigned(), false],
  ] as const)("a replica that took over while running, when %s, has its high watermark known: %p", async (_, assignment, known) => {
    const dir = tempDir();
    await followerThatMissedTheLastHighWatermark(dir);
    const { replica } = makeReplica({ dir, selfId: 5002 });
    expect(replica.highWatermarkKnown).toBe(false);
    replica.update(assignment);
    await turn();
    expect(replica.highWatermarkKnown).toBe(known);
    expect(replica.report().highWatermarkKnown).toBe(known);
  });

  test("a leader that restarts on its own checkpoint, its log no longer than it, is known at once; with records above it, once its followers hold them", async () => {
    const dir = tempDir();
    const { replica: first } = makeReplica({ dir, assignment: assigned({ isr: [5001] }) });
    await first.produce(batchOf(["a", "b"]));
    first.close();
    const { replica: clean } = makeReplica({ dir });
    expect([clean.highWatermark, clean.highWatermarkKnown]).toEqual([2, true]);
    const produced = track(clean.produce(batchOf(["c"])));
    await turn();
    clean.close();
    await turn();
    expect(produced.state).toBe("failed");
    const { replica: restarted } = makeReplica({ dir });
    expect([restarted.endOffset, restarted.highWatermark, restarted.highWatermarkKnown]).toEqual([3, 2, false]);
    await fetchAt(restarted, 5002, 3);
    await fetchAt(restarted, 5003, 3);
    expect([restarted.highWatermark, restarted.highWatermarkKnown]).toEqual([3, true]);
  });
});

function mount(args: string[]): { ok: boolean; error: string } {
  const result = spawnSync("mount", args, { encoding: "utf8" });
  return { ok: result.status === 0, error: (result.stderr || result.error?.message || "").trim() };
}

/** A fresh tmpfs of `size` (mount's spelling, "1m"), unmounted after the test; or why none can be mounted here. */
function smallDisk(size: string): { dir: string; resize(size: string): void } | { problem: string } {
  const dir = mkdtempSync(join(tmpdir(), "cluster-replica-full-"));
  const mounted = mount(["-t", "tmpfs", "-o", `size=${size},mode=0700`, "tmpfs", dir]);
  if (!mounted.ok) {
    rmSync(dir, { recursive: true, force: true });
    return { problem: mounted.error || "mount failed" };
  }
  cleanups.push(() => {
    if (spawnSync("umount", [dir]).status !== 0) spawnSync("umount", ["-l", dir]);
    rmSync(dir, { recursive: true, force: true });
  });
  return { dir, resize: (next) => expect(mount(["-o", `remount,size=${next}`, dir]).ok).toBe(true) };
}

const probe = smallDisk("1m");
for (const cleanup of cleanups.splice(0)) cleanup();
const canMount = !("problem" in probe);
if (!canMount) console.log(`Replica disk-full tests skipped: cannot mount a tmpfs here (${probe.problem})`);

describe("Replica: a full disk", () => {
  const BIG = "x".repeat(64 * 1024);

  test.skipIf(!canMount)("a produce that finds the disk full fails with DISK_FULL naming the directory, keeps nothing of its batch, and the next one after room is made is acknowledged", async () => {
    const disk = smallDisk("1m") as { dir: string; resize(size: string): void };
    const { replica } = makeReplica({ dir: disk.dir, assignment: assigned({ replicas: [5001], isr: [5001] }) });
    let refused: unknown;
    for (let attempt = 0; attempt < 40 && refused === undefined; attempt++) {
      const before = replica.endOffset;
      await replica.produce(batchOf([BIG])).catch((error) => {
        refused = error;
        expect(replica.endOffset).toBe(before);
      });
    }
    expect(refused).toBeInstanceOf(ReplicaError);
    expect((refused as ReplicaError).code).toBe("DISK_FULL");
    expect((refused as ReplicaError).message).toContain(`no room on '${disk.dir}'`);
    const acknowledged = replica.endOffset;
    expect(acknowledged).toBeGreaterThan(0);

    disk.resize("4m");
    await replica.produce(batchOf(["after"]));
    expect(replica.highWatermark).toBe(acknowledged + 1);
    expect(valuesOf((await replica.consume(acknowledged, { maxBytes: 1 << 20, waitMs: 0 })).bytes)).toEqual(["after"]);
  });

  test.skipIf(!canMount)("a follower whose disk is full keeps nothing of what it fetched, so its next fetch acknowledges none of it", async () => {
    const { replica: leader } = makeReplica({ assignment: assigned({ replicas: [5001, 5002], isr: [5001] }) });
    for (let index = 0; index < 24; index++) await leader.produce(batchOf([BIG]));
    const disk = smallDisk("1m") as { dir: string; resize(size: string): void };
    const { replica: follower } = makeReplica({ dir: disk.dir, selfId: 5002, assignment: assigned({ replicas: [5001, 5002], isr: [5001] }) });
    let failure: unknown;
    for (let attempt = 0; attempt < 24 && failure === undefined; attempt++) {
      const sent = await leader.fetch({ replicaId: 5002, leaderEpoch: 1, offset: follower.endOffset, maxBytes: 100 * 1024, waitMs: 0, epochs: follower.epochs });
      const before = follower.endOffset;
      try {
        follower.appendFromLeader(sent.records, { epochs: sent.epochs, highWatermark: sent.highWatermark });
      } catch (error) {
        failure = error;
        expect(follower.endOffset).toBe(before);
      }
    }
    expect((failure as NodeJS.ErrnoException | undefined)?.code).toBe("ENOSPC");
    disk.resize("4m");
    const sent = await leader.fetch({ replicaId: 5002, leaderEpoch: 1, offset: follower.endOffset, maxBytes: 4 << 20, waitMs: 0, epochs: follower.epochs });
    follower.appendFromLeader(sent.records, { epochs: sent.epochs, highWatermark: sent.highWatermark });
    expect(follower.endOffset).toBe(24);
    expect(follower.highWatermark).toBe(24);
  });
});

type Made = ReturnType<typeof makeReplica>;
