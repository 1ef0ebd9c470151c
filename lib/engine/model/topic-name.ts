/**
 * Topic names follow Kafka's rules (letters, digits, '.', '_' and '-'; not '.' or '..'), with a
 * shorter limit than Kafka's 249 so that a partition's file names (`<topic>-<n>.yaml` and its
 * temporary twin) stay within the 255 bytes a file name may have.
 */

/** Longest topic name accepted. */
export const MAX_TOPIC_NAME_LENGTH = 200;

const TOPIC_NAME_PATTERN = /^[a-zA-Z0-9._-]+$/;

/** Why `name` is not a valid topic name, or null when it is. */
export function topicNameProblem(name: string): string | null {
  if (name.length === 0) return "a topic name cannot be empty";
  if (name.length > MAX_TOPIC_NAME_LENGTH) return `a topic name has at most ${MAX_TOPIC_NAME_LENGTH} characters, not ${name.length}`;
  if (name === "." || name === "..") return `'${name}' cannot be a topic name`;
  if (!TOPIC_NAME_PATTERN.test(name)) return `topic name '${name}' may only hold letters, digits, '.', '_' and '-'`;
  return null;
}

/** The name of partition `partition` of `topic`, as Kafka spells it (also its file and directory name). */
export function partitionName(topic: string, partition: number): string {
  return `${topic}-${partition}`;
}
