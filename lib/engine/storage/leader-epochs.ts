/**
 * A replica's leader-epoch history (Kafka's leader epoch cache, KIP-101): which epoch's leader
 * wrote which offsets. Entry `[epoch, start]` says the leader of `epoch` wrote the records from
 * `start` until the next entry's start. A leader adds its entry when it takes over, before it
 * appends anything; a follower copies its leader's history for the records it holds.
 *
 * Two replicas hold the same record at an offset exactly when the same epoch wrote it there
 * (an epoch has one leader, which writes each offset once), so comparing histories finds where
 * a follower's log leaves its leader's: everything from there on was never acknowledged under
 * the new leader and is cut before the follower fetches. Truncating to the high watermark
 * instead would be wrong both ways: a follower's high watermark lags its leader's, so it would
 * cut acknowledged records, and a returning leader's tail above it may be valid.
 *
 * Kept in `leader-epochs` in the partition directory, one "epoch start" line per entry.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../../base/files.ts";

/** `[epoch, start offset]`, epochs rising, starts never falling. */
export type EpochEntry = readonly [epoch: number, start: number];

const HISTORY_FILE = "leader-epochs";

/** The epoch that wrote `offset`, or -1 for records written before any history was kept. */
export function epochAt(history: readonly EpochEntry[], offset: number): number {
  let epoch = -1;
  for (const [entryEpoch, start] of history) {
    if (start > offset) break;
    epoch = entryEpoch;
  }
  return epoch;
}

/**
 * The offset where a log ending at `localEnd` with history `local` stops matching a log ending
 * at `leaderEnd` with history `leader`: the first offset both hold that different epochs wrote,
 * else the shorter end. A follower keeps everything below it.
 */
export function divergencePoint(local: readonly EpochEntry[], localEnd: number, leader: readonly EpochEntry[], leaderEnd: number): number {
  const limit = Math.min(localEnd, leaderEnd);
  const boundaries = [0, ...local.map(([, start]) => start), ...leader.map(([, start]) => start)]
    .filter((offset) => offset < limit)
    .sort((a, b) => a - b);
  for (const offset of boundaries) {
    if (epochAt(local, offset) !== epochAt(leader, offset)) return offset;
  }
  return limit;
}

/** `history` with the entries that describe no record below `end` dropped. */
export function clampHistory(history: readonly EpochEntry[], end: number): EpochEntry[] {
  return history.filter(([, start]) => start < end);
}

/** `history` with `epoch` starting at `start` added, unless it already has that epoch or a later one. */
export function withEpoch(history: readonly EpochEntry[], epoch: number, start: number): EpochEntry[] {
  const last = history.at(-1);
  if (last !== undefined && last[0] >= epoch) return [...history];
  return [...history.filter(([, entryStart]) => entryStart <= start), [epoch, start]];
}

/** True when `a` and `b` hold the same entries. */
export function sameHistory(a: readonly EpochEntry[], b: readonly EpochEntry[]): boolean {
  return a.length === b.length && a.every(([epoch, start], index) => b[index]![0] === epoch && b[index]![1] === start);
}

/** The history kept in partition directory `dir`; empty when there is none (or it does not parse). */
export function readHistory(dir: string): EpochEntry[] {
  let text: string;
  try {
    text = readFileSync(join(dir, HISTORY_FILE), "utf8");
  } catch {
    return [];
  }
  const history: EpochEntry[] = [];
  for (const line of text.split("\n")) {
    const [epoch, start] = line.trim().split(/\s+/).map(Number);
    if (Number.isInteger(epoch) && Number.isInteger(start)) history.push([epoch!, start!]);
  }
  return history;
}

/** Replaces the history in `dir` (atomically, fsynced). */
export function writeHistory(dir: string, history: readonly EpochEntry[]): void {
  writeFileAtomic(join(dir, HISTORY_FILE), history.map(([epoch, start]) => `${epoch} ${start}\n`).join(""));
}
