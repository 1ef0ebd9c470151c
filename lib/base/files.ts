/**
 * Files written atomically, the one way this project writes state: temp file, fsync, rename,
 * fsync of the directory, so a process killed at any instant leaves the old file or the new
 * one, never half of one. Both the CLI (a cluster's home) and the engine (the SC's store, the
 * SPUs' epochs and assignments) write through here.
 *
 * Machine-written files are YAML read and written with Bun's built-in parser: it costs nothing
 * to load, which matters for a CLI run dozens of times a day, and it reports line and column.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { CorruptFileError } from "./errors.ts";

/** Creates `dir` (and parents) owner-only; safe to repeat and safe against a concurrent creator. */
export function ensureDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
}

/**
 * Where a writer of state puts a file's new contents: `atomicWriter` makes each durable at once,
 * the writer `writeFilesTogether` passes holds them for its group. A function that writes state
 * takes one (atomicWriter by default), so a caller decides which, and no write is held by a
 * setting somewhere else.
 */
export interface FileWriter {
  write(path: string, contents: string | Uint8Array): void;
}

/** Each file written atomically and made durable before the call returns. */
export const atomicWriter: FileWriter = { write: writeFileAtomic };

/** Writes `contents` to `path` atomically: readers see the old file or the new one, never a mix. */
export function writeFileAtomic(path: string, contents: string | Uint8Array): void {
  const temp = `${path}.${process.pid}.tmp`;
  try {
    writeTemp(temp, contents, { sync: true });
    renameSync(temp, path);
  } catch (error) {
    // A temp file left by a write that failed (a full disk) would take the space of another.
    rmSync(temp, { force: true });
    throw error;
  }
  fsyncPath(dirname(path));
}

/**
 * Runs `write`, which must not await, with a writer that holds back every file written
 * through it: when `write` returns they are made durable together (each temp file synced, then
 * renamed in the order written, then each directory synced once) and appear at once. If
 * `write` throws, none of its files appears. The writer refuses writes once the group is over.
 *
 * With `onVisible`, for files that are all new (no older version a crash could leave torn), the
 * files appear first, then `onVisible` runs, then they are synced: whoever waits for them to
 * appear goes on during the syncs, and the call still returns only once they are durable.
 *
 * NOTE: why. A sync waits for the filesystem's journal to commit, and a commit carries whatever
 * was written before it, so syncs made after all the writes share commits where syncs made one
 * file at a time cannot. Measured here with both cores busy (as they are while a `create`'s
 * daemons load): seven small files took 10 to 13 ms one by one, 5 to 7 ms together.
 */
export function writeFilesTogether(write: (writer: FileWriter) => void, options: { onVisible?: () => void } = {}): void {
  const writes: { temp: string; path: string }[] = [];
  let open = true;
  const heldWriter: FileWriter = {
    write(path, contents) {
      if (!open) throw new Error(`'${path}' was written through a writeFilesTogether() writer after its group was made durable`);
      const temp = `${path}.${process.pid}.tmp`;
      try {
        writeTemp(temp, contents, { sync: false });
      } catch (error) {
        rmSync(temp, { force: true });
        throw error;
      }
      // Written twice: the temp file holds the last contents, and is renamed once.
      if (!writes.some((held) => held.path === path)) writes.push({ temp, path });
    },
  };
  try {
    write(heldWriter);
  } catch (error) {
    removeTemps(writes);
    throw error;
  } finally {
    open = false;
  }
  const renameAll = () => {
    for (const [index, { temp, path }] of writes.entries()) {
      try {
        renameSync(temp, path);
      } catch (error) {
        removeTemps(writes.slice(index));
        throw error;
      }
    }
  };
  if (options.onVisible) {
    renameAll();
    options.onVisible();
    for (const { path } of writes) fsyncPath(path);
  } else {
    try {
      for (const { temp } of writes) fsyncPath(temp);
    } catch (error) {
      removeTemps(writes);
      throw error;
    }
    renameAll();
  }
  for (const dir of new Set(writes.map((held) => dirname(held.path)))) fsyncPath(dir);
}

/** Most files `writeGroupDurably` has open at once. */
const GROUP_OPEN_FILES = 64;

/**
 * Writes every file of `files` (at distinct paths) atomically, as one group, off the event loop: each temp file is
 * written and synced on the thread pool (GROUP_OPEN_FILES at a time), then all are renamed in
 * the order given, then each directory is synced once. A file appears only once every file of
 * the group is durable, so a crash leaves each either old or new, and an earlier file never
 * appears without a later one having been made durable too. If anything fails, no file not yet
 * renamed appears, and the promise rejects.
 *
 * NOTE: why not writeFilesTogether. The SC's metadata of 1,000 partitions is 1,000 files; made
 * with blocking calls they took about 550 ms here (file creation on this disk costs 0.3 ms),
 * in which the SC would read no heartbeat and answer no client. On the thread pool the event
 * loop never waited more than 6 ms for the same group.
 */
export async function writeGroupDurably(files: readonly { path: string; contents: string | Uint8Array }[]): Promise<void> {
  const { open, rename } = await import("node:fs/promises");
  const temps = files.map(({ path }) => `${path}.${process.pid}.tmp`);
  const writeOne = async (index: number) => {
    const { contents } = files[index]!;
    const handle = await open(temps[index]!, "w", 0o600);
    try {
      await handle.writeFile(contents);
      await handle.sync();
    } finally {
      await handle.close();
    }
  };
  let renamed = 0;
  try {
    let next = 0;
    const worker = async () => {
      while (next < files.length) await writeOne(next++);
    };
    await Promise.all(Array.from({ length: Math.min(GROUP_OPEN_FILES, files.length) }, worker));
    for (; renamed < files.length; renamed++) await rename(temps[renamed]!, files[renamed]!.path);
  } catch (error) {
    // A temp file left by a write that failed (a full disk) would take the space of another.
    for (const temp of temps.slice(renamed)) rmSync(temp, { force: true });
    throw error;
  }
  await Promise.all([...new Set(files.map(({ path }) => dirname(path)))].map(fsyncPathAsync));
}

async function fsyncPathAsync(path: string): Promise<void> {
  const { open } = await import("node:fs/promises");
  const handle = await open(path, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Writes `contents` to a new file `temp`, synced unless `sync` is false. */
function writeTemp(temp: string, contents: string | Uint8Array, options: { sync: boolean }): void {
  const fd = openSync(temp, "w", 0o600);
  try {
    const bytes = typeof contents === "string" ? Buffer.from(contents) : contents;
    // NOTE: a write to a nearly full disk may take only part; the next one then fails with ENOSPC.
    for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done);
    if (options.sync) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function removeTemps(writes: { temp: string }[]): void {
  for (const { temp } of writes) rmSync(temp, { force: true });
}

/** Syncs the file or directory at `path`. */
export function fsyncPath(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Writes `value` as YAML to `path`, after `header` (comment lines), through `writer` (atomicWriter by default). */
export function writeYamlAtomic(path: string, value: unknown, options: { header?: string; writer?: FileWriter } = {}): void {
  const { header = "", writer = atomicWriter } = options;
  writer.write(path, header + Bun.YAML.stringify(value, null, 2) + "\n");
}

/**
 * Reads a YAML file written by this tool; `undefined` when it does not exist. A file that
 * cannot be read (its directory is a file, say) or does not parse is a CorruptFileError naming
 * the file (and the line), so it can be fixed by hand or the cluster deleted.
 */
export function readYamlFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    const { code } = error as NodeJS.ErrnoException;
    if (code === "ENOENT") return undefined;
    throw new CorruptFileError(path, `'${path}' cannot be read (${code ?? (error as Error).message})`, { cause: error });
  }
  try {
    return Bun.YAML.parse(text);
  } catch (error) {
    throw new CorruptFileError(path, `'${path}' is not valid YAML: ${describeYamlError(text)}`, { cause: error });
  }
}

/**
 * Where and why `text` fails to parse. Bun's parser does not say where, so on this rare path
 * the `yaml` package parses it again for the line and column.
 */
function describeYamlError(text: string): string {
  const { parseDocument } = require("yaml") as typeof import("yaml");
  const [first] = parseDocument(text).errors;
  return first ? formatYamlError(first) : "unexpected content";
}

/** One error of the `yaml` package as "what, at line L, column C", without its code excerpt. */
export function formatYamlError(error: { message: string }): string {
  return error.message.split("\n")[0]!.replace(/:$/, "");
}

/** Removes one file or directory tree; a no-op when it is already gone. */
export function removePath(path: string): void {
  rmSync(path, { recursive: true, force: true });
}

export function pathExists(path: string): boolean {
  return existsSync(path);
}

export function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
