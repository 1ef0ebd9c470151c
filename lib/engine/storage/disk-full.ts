/**
 * A full disk, told apart from other storage failures: ENOSPC (or EDQUOT, a full quota) from
 * a write, named with the directory written to and the space left there, so the message says
 * where room must be made.
 */
import { statfsSync } from "node:fs";

/** True for the error of a write to a full disk or quota. */
export function isDiskFull(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === "ENOSPC" || code === "EDQUOT";
}

/** Bytes this process may still write on the filesystem holding `dir`, or undefined when it cannot be read. */
export function freeBytes(dir: string): number | undefined {
  try {
    const stats = statfsSync(dir);
    return Number(stats.bavail) * Number(stats.bsize);
  } catch {
    return undefined;
  }
}

/** "no room on '/x/data' for 4.0 MiB more (12.0 KiB free)", or without the size when `neededBytes` is not known. */
export function describeDiskFull(dir: string, neededBytes?: number): string {
  const free = freeBytes(dir);
  const wanted = neededBytes === undefined ? "" : ` for ${formatBytes(neededBytes)} more`;
  return `no room on '${dir}'${wanted} (${free === undefined ? "free space unknown" : `${formatBytes(free)} free`})`;
}

/** "512 B", "12.0 KiB", "3.4 MiB", "1.2 GiB" */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}
