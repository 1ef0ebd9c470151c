import { afterEach, describe, expect, test } from "bun:test";
import { dlopen, FFIType } from "bun:ffi";
import { closeSync, constants, mkdtempSync, openSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LARGE_PIPE_BYTES, pipeGrower } from "../../lib/terminal/pipe-capacity.ts";

/** Linux's fcntl command to read a pipe's capacity (fcntl.h). */
const F_GETPIPE_SZ = 1032;

function pipeCapacity(fd: number): number {
  const { symbols, close } = dlopen("libc.so.6", { fcntl: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 } });
  try {
    return symbols.fcntl(fd, F_GETPIPE_SZ);
  } finally {
    close();
  }
}

const opened: number[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const fd of opened.splice(0)) closeSync(fd);
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A named pipe's write end (its read end held open so the write end opens at once), or a plain file's descriptor. */
function openIn(kind: "pipe" | "file"): number {
  const dir = mkdtempSync(join(tmpdir(), "pipe-capacity-test-"));
  dirs.push(dir);
  const path = join(dir, kind);
  if (kind === "pipe") {
    Bun.spawnSync(["mkfifo", path]);
    opened.push(openSync(path, constants.O_RDONLY | constants.O_NONBLOCK));
  }
  const fd = openSync(path, kind === "pipe" ? constants.O_WRONLY : "w");
  opened.push(fd);
  return fd;
}

describe.if(process.platform === "linux")("pipeGrower()", () => {
  test("pipeGrower() grows a pipe to 1 MiB once a write would fill the default 64 KiB, and only then", () => {
    const fd = openIn("pipe");
    const grow = pipeGrower(fd);
    expect(pipeCapacity(fd)).toBe(64 * 1024);
    expect(grow(64 * 1024)).toBe(false);
    expect(pipeCapacity(fd)).toBe(64 * 1024);
    expect(grow(64 * 1024 + 1)).toBe(true);
    expect(pipeCapacity(fd)).toBe(LARGE_PIPE_BYTES);
  });

  test("pipeGrower() leaves anything but a pipe as it is", () => {
    expect(pipeGrower(openIn("file"))(4 * 1024 * 1024)).toBe(false);
  });
});
