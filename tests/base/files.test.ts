import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeFileAtomic, writeFilesTogether, type FileWriter } from "../../lib/base/files.ts";

const dirs: string[] = [];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "cluster-home-"));
  dirs.push(dir);
  return dir;
}

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("writeFilesTogether()", () => {
  test("writeFilesTogether() makes each file appear only when it returns, in two directories", () => {
    const dir = tempDir();
    mkdirSync(join(dir, "sub"));
    writeFileSync(join(dir, "old"), "before");
    writeFilesTogether((writer) => {
      writer.write(join(dir, "old"), "after");
      writer.write(join(dir, "sub", "new"), "fresh");
      expect(readFileSync(join(dir, "old"), "utf8")).toBe("before");
      expect(existsSync(join(dir, "sub", "new"))).toBe(false);
    });
    expect(readFileSync(join(dir, "old"), "utf8")).toBe("after");
    expect(readFileSync(join(dir, "sub", "new"), "utf8")).toBe("fresh");
    expect(readdirSync(dir).sort()).toEqual(["old", "sub"]);
  });

  test("writeFilesTogether() leaves a file written twice with its last contents", () => {
    const dir = tempDir();
    writeFilesTogether((writer) => {
      writer.write(join(dir, "state"), "starting");
      writer.write(join(dir, "state"), "recorded");
    });
    expect(readFileSync(join(dir, "state"), "utf8")).toBe("recorded");
    expect(readdirSync(dir)).toEqual(["state"]);
  });

  test("writeFilesTogether() writes none of its files, and leaves no temp file, when its function throws", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "old"), "before");
    expect(() =>
      writeFilesTogether((writer) => {
        writer.write(join(dir, "old"), "after");
        writer.write(join(dir, "new"), "fresh");
        throw new Error("seeding failed");
      }),
    ).toThrow("seeding failed");
    expect(readFileSync(join(dir, "old"), "utf8")).toBe("before");
    expect(readdirSync(dir)).toEqual(["old"]);
  });

  test("writeFilesTogether() with onVisible runs it once every file is in place, before it returns, and not when its function throws", () => {
    const dir = tempDir();
    const seen: string[][] = [];
    writeFilesTogether(
      (writer) => {
        writer.write(join(dir, "spec"), "a");
        writer.write(join(dir, "state"), "b");
      },
      { onVisible: () => seen.push(readdirSync(dir).sort()) },
    );
    expect(seen).toEqual([["spec", "state"]]);
    expect(() =>
      writeFilesTogether(
        (writer) => {
          writer.write(join(dir, "token"), "c");
          throw new Error("seeding failed");
        },
        { onVisible: () => seen.push(["called"]) },
      ),
    ).toThrow("seeding failed");
    expect(seen).toHaveLength(1);
    expect(readdirSync(dir).sort()).toEqual(["spec", "state"]);
  });

  test("writeFilesTogether() holds only what goes through its writer, and its writer refuses writes after the group", () => {
    const dir = tempDir();
    let kept: FileWriter | undefined;
    writeFilesTogether((writer) => {
      kept = writer;
      writer.write(join(dir, "held"), "later");
      writeFileAtomic(join(dir, "alone"), "now");
      expect(readFileSync(join(dir, "alone"), "utf8")).toBe("now");
      expect(existsSync(join(dir, "held"))).toBe(false);
    });
    expect(() => kept!.write(join(dir, "late"), "too late")).toThrow("after its group was made durable");
    expect(readdirSync(dir).sort()).toEqual(["alone", "held"]);
  });
});
