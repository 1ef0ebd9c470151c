/**
 * The end of a file that grows (a daemon's log): its last lines, read backwards only as far as
 * needed, and the bytes appended after an offset. `cluster logs` follows logs with it, and the
 * lifecycle's errors quote a log's tail.
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";

const CHUNK_BYTES = 64 * 1024;

/**
 * The last `count` lines of the file at `path` and its size when read (where following starts);
 * no lines when it does not exist yet. It reads backwards from the end, only as far as needed.
 */
export function readLastLines(path: string, count: number): { lines: string[]; size: number } {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { lines: [], size: 0 };
    throw error;
  }
  try {
    const size = fstatSync(fd).size;
    const chunks: Buffer[] = [];
    let position = size;
    let newlines = 0;
    // Past `count` newlines, at least `count` whole lines follow the first one, which may be cut.
    while (count > 0 && position > 0 && newlines <= count) {
      const length = Math.min(CHUNK_BYTES, position);
      position -= length;
      const chunk = readAt(fd, position, length);
      chunks.unshift(chunk);
      for (const byte of chunk) if (byte === 0x0a) newlines++;
    }
    const lines = Buffer.concat(chunks).toString("utf8").split("\n");
    if (lines.at(-1) === "") lines.pop();
    return { lines: count > 0 ? lines.slice(-count) : [], size };
  } finally {
    closeSync(fd);
  }
}

/** Up to `length` bytes of the file open as `fd` from `position`: fewer at its end. */
export function readAt(fd: number, position: number, length: number): Buffer {
  const buffer = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const read = readSync(fd, buffer, done, length - done, position + done);
    if (read === 0) break;
    done += read;
  }
  return buffer.subarray(0, done);
}
