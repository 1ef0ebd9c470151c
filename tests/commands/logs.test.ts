/**
 * `cluster logs`: the tail reader on files of every shape, then the real CLI on real clusters,
 * running and stopped, with `-f` following lines the SC and SPUs write while it runs.
 */
import { describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { appendFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { clusterPaths } from "../../lib/cluster/home.ts";
import { readLastLines } from "../../lib/base/file-tail.ts";
import { CLI, cli, portBlocks, tempHome } from "../helpers.ts";

const nextPortBase = portBlocks(16000);

function fileWith(contents: string): string {
  const path = join(tempHome(), "test.log");
  writeFileSync(path, contents);
  return path;
}

describe("readLastLines()", () => {
  test.each([
    ["a\nb\nc\n", 2, ["b", "c"]],
    ["a\nb\nc\n", 3, ["a", "b", "c"]],
    ["a\nb\nc\n", 10, ["a", "b", "c"]],
    ["a\nb\nc", 2, ["b", "c"]],
    ["a\n\nc\n", 2, ["", "c"]],
    ["a\nb\n", 0, []],
    ["", 5, []],
    ["only\n", 1, ["only"]],
  ])("readLastLines() of %j with count %p returns %j", (contents, count, lines) => {
    expect(readLastLines(fileWith(contents), count).lines).toEqual(lines);
  });

  test("readLastLines() of a missing file returns no lines and size 0", () => {
    expect(readLastLines(join(tempHome(), "absent.log"), 5)).toEqual({ lines: [], size: 0 });
  });

  test("readLastLines() returns whole lines when they span several 64 KiB chunks", () => {
    // 3000 lines of 101 bytes, two-byte characters among them: the last 1500 span three chunks.
    const lines = Array.from({ length: 3000 }, (_, index) => `${String(index).padStart(5, "0")} ${"é".repeat(47)}`);
    const path = fileWith(lines.map((line) => `${line}\n`).join(""));
    const tail = readLastLines(path, 1500);
    expect(tail.lines).toEqual(lines.slice(-1500));
    expect(tail.size).toBe(Bun.file(path).size);
  });

  test("readLastLines() returns a long line whole when it starts before the last 64 KiB", () => {
    const long = "x".repeat(100_000);
    const short = Array.from({ length: 10 }, (_, index) => `line ${index}`);
    const path = fileWith([long, ...short].map((line) => `${line}\n`).join(""));
    expect(readLastLines(path, 11).lines).toEqual([long, ...short]);
  });
});

describe("cluster logs", () => {
  test("logs prints the last lines of every component, prefixed, on a running and then a stopped cluster", async () => {
    const home = tempHome();
    expect((await cli(home, ["create", "--spus", "2", "--port-base", String(nextPortBase())])).exitCode).toBe(0);

    const all = await cli(home, ["logs"]);
    expect(all.exitCode).toBe(0);
    const lines = all.stdout.trimEnd().split("\n");
    expect(new Set(lines.map((line) => line.split(" | ")[0]))).toEqual(new Set(["sc", "spu-5001", "spu-5002"]));
    expect(lines.find((line) => line.startsWith("sc | "))).toContain("SC ready");
    expect(all.stdout).toContain("spu-5002 | ");
    expect(all.stdout).toContain("SPU 5002 starting: public");

    const one = await cli(home, ["logs", "-n", "1"]);
    expect(one.stdout.trimEnd().split("\n").map((line) => line.split(" | ")[0])).toEqual(["sc", "spu-5001", "spu-5002"]);

    expect((await cli(home, ["shutdown"])).exitCode).toBe(0);
    const stopped = await cli(home, ["logs", "spu-5001", "-n", "1", "--json"]);
    expect(stopped.exitCode).toBe(0);
    expect(stopped.json).toEqual({ lines: [{ component: "spu-5001", line: expect.stringContaining("SPU 5001 stopping on SIGTERM") }] });
  });

  test("logs names the valid components for an unknown one, and says NO_CLUSTER without a cluster", async () => {
    const home = tempHome();
    const absent = await cli(home, ["logs", "--json"]);
    expect(absent.exitCode).toBe(1);
    expect(absent.json.error.code).toBe("NO_CLUSTER");

    expect((await cli(home, ["create", "--spus", "2", "--port-base", String(nextPortBase())])).exitCode).toBe(0);
    const unknown = await cli(home, ["logs", "spu-5009"]);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toContain("unknown component 'spu-5009' of cluster 'local'; valid components: 'sc', 'spu-5001', 'spu-5002'");
    const both = await cli(home, ["logs", "-f", "--json"]);
    expect(both.exitCode).toBe(2);
    expect(both.json.error.message).toContain("cannot be combined with --follow");
  });

  test("logs -f prints lines appended to every log until SIGINT, then exits 0", async () => {
    const home = tempHome();
    expect((await cli(home, ["create", "--spus", "2", "--port-base", String(nextPortBase())])).exitCode).toBe(0);
    const follower = spawn(process.execPath, [CLI, "logs", "-f", "-n", "1"], {
      env: { ...process.env, CLUSTER_HOME: home, CLUSTER_NAME: "" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const exited = new Promise<number | null>((resolve) => follower.on("exit", (code) => resolve(code)));
    let output = "";
    const waiters: (() => void)[] = [];
    follower.stdout.on("data", (chunk) => {
      output += chunk;
      waiters.splice(0).forEach((wake) => wake());
    });
    const waitFor = async (text: string) => {
      while (!output.includes(text)) {
        const more = new Promise<void>((resolve) => waiters.push(resolve));
        const ended = await Promise.race([more.then(() => false), exited.then(() => true)]);
        if (ended && !output.includes(text)) throw new Error(`logs -f exited before printing '${text}'; it printed:\n${output}`);
      }
    };
    try {
      // The tail is printed once every file's end is known: whatever is written after it must follow.
      await waitFor("spu-5002 | ");
      expect((await cli(home, ["spu", "register", "--id", "5004"])).exitCode).toBe(0);
      await waitFor("registered SPU 5004");
      expect((await cli(home, ["shutdown"])).exitCode).toBe(0);
      await waitFor("SPU 5002 stopping on SIGTERM");
      await waitFor("SC stopping on SIGTERM");
      appendFileSync(join(clusterPaths(home, "local").logs, "spu-5001.log"), "a line written by hand\n");
      await waitFor("spu-5001 | a line written by hand");

      follower.kill("SIGINT");
      expect(await exited).toBe(0);
      expect(output).toMatch(/^sc \| .*registered SPU 5004$/m);
      expect(output).toMatch(/^spu-5002 \| .*SPU 5002 stopping on SIGTERM$/m);
      expect(output.match(/registered SPU 5004/g)).toHaveLength(1);
    } finally {
      if (follower.exitCode === null) follower.kill("SIGKILL");
    }
  });
});
