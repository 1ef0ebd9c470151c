/**
 * `cluster diagnostics`: real archives of real clusters, unpacked with the system tar and
 * checked file by file: what is in them, what is not (anything outside the cluster directory),
 * and that the staging directory is gone afterwards, even when tar fails.
 */
import { describe, expect, test } from "bun:test";
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { $ } from "zx";
import { diagnosticsBaseName } from "../../lib/commands/diagnostics.ts";
import { clusterPaths } from "../../lib/cluster/home.ts";
import { CLI, cli, portBlocks, tempHome } from "../helpers.ts";

const nextPortBase = portBlocks(16500);

/** Runs `cluster diagnostics ...args` in `cwd` with its own TMPDIR, so its staging can be seen. */
async function diagnostics(home: string, cwd: string, args: string[] = []) {
  const tmp = join(cwd, "tmp");
  mkdirSync(tmp, { recursive: true });
  const run = await $({
    quiet: true,
    nothrow: true,
    cwd,
    env: { ...process.env, CLUSTER_HOME: home, CLUSTER_NAME: "", TMPDIR: tmp },
  })`${process.execPath} ${CLI} diagnostics ${args}`;
  return { exitCode: run.exitCode, stdout: run.stdout, stderr: run.stderr, stagingLeft: readdirSync(tmp) };
}

/** Unpacks `archive` into a new directory and returns its top directory and every file in it. */
async function unpack(archive: string, into: string): Promise<{ top: string; files: string[] }> {
  mkdirSync(into);
  await $({ quiet: true })`tar -xzf ${archive} -C ${into}`;
  const [top, ...others] = readdirSync(into);
  expect(others).toEqual([]);
  const files = readdirSync(join(into, top!), { recursive: true, withFileTypes: true })
    .filter((entry) => !entry.isDirectory())
    .map((entry) => join(entry.parentPath, entry.name).slice(join(into, top!).length + 1))
    .sort();
  return { top: join(into, top!), files };
}

describe("diagnosticsBaseName()", () => {
  test("diagnosticsBaseName() names the cluster and the UTC time, without characters a file name dislikes", () => {
    expect(diagnosticsBaseName("dev", new Date("2026-11-25T09:56:34.123Z"))).toBe("cluster-diagnostics-dev-20261125T095634Z");
  });
});

describe("cluster diagnostics", () => {
  test("diagnostics writes spec, state, metadata, the last 200 lines of each log and the status into ./cluster-diagnostics-*.tar.gz", async () => {
    const home = tempHome();
    const work = tempHome();
    expect((await cli(home, ["create", "--spus", "2", "--port-base", String(nextPortBase())])).exitCode).toBe(0);
    const paths = clusterPaths(home, "local");
    const scLog = join(paths.logs, "sc.log");
    appendFileSync(scLog, Array.from({ length: 300 }, (_, index) => `filler ${index}\n`).join(""));

    const run = await diagnostics(home, work);
    expect(run.stderr).toBe("");
    expect(run.exitCode).toBe(0);
    expect(run.stagingLeft).toEqual([]);
    const archive = run.stdout.trim();
    expect(archive).toMatch(new RegExp(`^${work}/cluster-diagnostics-local-\\d{8}T\\d{6}Z\\.tar\\.gz$`));
    expect(statSync(archive).mode & 0o777).toBe(0o600);

    const { top, files } = await unpack(archive, join(work, "unpacked"));
    expect(top).toEndWith(archive.slice(archive.lastIndexOf("/") + 1, -".tar.gz".length));
    expect(files).toEqual([
      "cluster.yaml",
      "logs/sc.log",
      "logs/spu-5001.log",
      "logs/spu-5002.log",
      "metadata/Partition/consumer-offset-0.yaml",
      "metadata/SPU/custom-spu-5001.yaml",
      "metadata/SPU/custom-spu-5002.yaml",
      "metadata/Topic/consumer-offset.yaml",
      "state.yaml",
      "status.json",
    ]);
    expect(readFileSync(join(top, "cluster.yaml"), "utf8")).toBe(readFileSync(paths.spec, "utf8"));
    expect(readFileSync(join(top, "state.yaml"), "utf8")).toBe(readFileSync(paths.state, "utf8"));
    const scTail = readFileSync(join(top, "logs/sc.log"), "utf8").split("\n");
    expect(scTail).toHaveLength(201);
    expect(scTail.at(-2)).toBe("filler 299");
    expect(scTail[0]).toBe("filler 100");
    expect(readFileSync(join(top, "logs/spu-5001.log"), "utf8")).toBe(readFileSync(join(paths.logs, "spu-5001.log"), "utf8"));
    const status = JSON.parse(readFileSync(join(top, "status.json"), "utf8"));
    expect(status.phase).toBe("running");
    expect(status.spus.online).toEqual([5001, 5002]);
  });

  test("diagnostics --output works on a stopped cluster and leaves out what lies outside the cluster directory", async () => {
    const home = tempHome();
    const work = tempHome();
    expect((await cli(home, ["create", "--port-base", String(nextPortBase())])).exitCode).toBe(0);
    expect((await cli(home, ["shutdown"])).exitCode).toBe(0);
    const paths = clusterPaths(home, "local");
    const secret = join(work, "secret.txt");
    writeFileSync(secret, "a secret outside the cluster\n");
    symlinkSync(secret, join(paths.logs, "spu-5009.log"));
    symlinkSync(secret, join(paths.metadata, "notes.yaml"));
    symlinkSync(work, join(paths.metadata, "elsewhere"));

    const output = join(work, "report.tar.gz");
    const run = await diagnostics(home, work, ["--output", "report.tar.gz", "--json"]);
    expect(run.exitCode).toBe(0);
    expect(JSON.parse(run.stdout).path).toBe(output);
    const { top, files } = await unpack(output, join(work, "unpacked"));
    expect(files).toEqual([
      "cluster.yaml",
      "logs/sc.log",
      "logs/spu-5001.log",
      "metadata/Partition/consumer-offset-0.yaml",
      "metadata/SPU/custom-spu-5001.yaml",
      "metadata/Topic/consumer-offset.yaml",
      "state.yaml",
      "status.json",
    ]);
    expect(JSON.parse(run.stdout).files).toEqual(files);
    expect(JSON.parse(readFileSync(join(top, "status.json"), "utf8")).phase).toBe("stopped");
    const everything = files.map((file) => readFileSync(join(top, file), "utf8")).join("");
    expect(everything).not.toContain("a secret outside the cluster");
    expect(everything).toContain("SPU 5001 stopping on SIGTERM");
  });

  test("diagnostics says NO_CLUSTER and writes nothing when there is no cluster", async () => {
    const work = tempHome();
    const run = await diagnostics(tempHome(), work, ["--json"]);
    expect(run.exitCode).toBe(1);
    expect(JSON.parse(run.stdout).error.code).toBe("NO_CLUSTER");
    expect(readdirSync(work)).toEqual(["tmp"]);
  });

  test("diagnostics fails with DIAGNOSTICS_FAILED and tar's message when the archive cannot be written, and removes its staging", async () => {
    const home = tempHome();
    const work = tempHome();
    expect((await cli(home, ["create", "--port-base", String(nextPortBase())])).exitCode).toBe(0);
    const run = await diagnostics(home, work, ["--output", join(work, "missing-dir", "report.tar.gz"), "--json"]);
    expect(run.exitCode).toBe(1);
    const { error } = JSON.parse(run.stdout);
    expect(error.code).toBe("DIAGNOSTICS_FAILED");
    expect(error.message).toContain("tar -czf");
    expect(error.message).toContain("missing-dir");
    expect(run.stagingLeft).toEqual([]);
    expect(existsSync(join(work, "missing-dir"))).toBe(false);
  });
});
