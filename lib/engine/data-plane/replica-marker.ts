/**
 * The marker of a partition directory (`replica.json`, naming the topic's id), and what it
 * decides: whether the directory's data belongs to the replica the SC assigns, or was left by
 * an earlier topic of the same name and may be removed. Removing is the one irreversible step,
 * so only a marker that is absent or names another topic allows it; a marker that cannot be
 * read or makes no sense leaves the data alone (pure, so the decision is table-tested).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

/** The marker's file name in a partition directory. */
export const MARKER_FILE = "replica.json";

/** What reading a partition directory's marker found. */
export type Marker = { kind: "absent" } | { kind: "topic"; topicId: string } | { kind: "unreadable"; problem: string };

/** What to do with a partition directory before a replica of a topic opens it. */
export type MarkerDecision =
  /** The data is the topic's: open it. */
  | { kind: "open" }
  /** The directory holds no data of this topic: remove it, start empty, write a new marker. */
  | { kind: "replace" }
  /** The marker cannot be trusted either way: leave the data alone and do not open the replica. */
  | { kind: "refuse"; problem: string };

/** Parses a marker's text; `unreadable` unless it is JSON with a string `topicId`. */
export function parseMarker(text: string): Marker {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return { kind: "unreadable", problem: `it is not JSON (${(error as Error).message})` };
  }
  const topicId = (parsed as { topicId?: unknown } | null)?.topicId;
  if (typeof topicId !== "string") return { kind: "unreadable", problem: "it names no topic id" };
  return { kind: "topic", topicId };
}

/** Reads the marker of partition directory `dir`: only a missing file (ENOENT) is `absent`. */
export function readMarker(dir: string): Marker {
  let text: string;
  try {
    text = readFileSync(join(dir, MARKER_FILE), "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { kind: "absent" };
    return { kind: "unreadable", problem: `it cannot be read (${(error as Error).message})` };
  }
  return parseMarker(text);
}

/** Decides what a replica of the topic with id `topicId` does with a directory whose marker is `marker`. */
export function decideMarker(marker: Marker, topicId: string): MarkerDecision {
  switch (marker.kind) {
    case "absent":
      return { kind: "replace" };
    case "topic":
      return marker.topicId === topicId ? { kind: "open" } : { kind: "replace" };
    case "unreadable":
      return { kind: "refuse", problem: `its marker ${MARKER_FILE} is unusable: ${marker.problem}` };
  }
}
