/**
 * Access, end to end with real processes: every listener binds 127.0.0.1; the public ports
 * speak Fluvio's protocol, which carries no credentials, so they accept only loopback and a
 * spec that would put them elsewhere is refused; both private ports (SPU to SC, follower to
 * leader) refuse whoever does not hold the cluster token; the token itself never shows in a
 * process's argv or environment, a log, or the CLI's output. Each refusal is checked beside
 * the same request made with the token, so a test fails if the refusal is not the token's.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { clusterPaths } from "../../lib/cluster/home.ts";
import { readState } from "../../lib/cluster/state.ts";
import { generateToken, readToken } from "../../lib/cluster/token.ts";
import { tokenMatches } from "../../lib/engine/wire/token.ts";
import { encodeFrame, FrameReader, type Frame } from "../../lib/engine/wire/frame.ts";
import { valuesOf } from "../batches.ts";
import { cli, portBlocks, tempHome, type CliResult } from "../helpers.ts";

const nextPortBase = portBlocks(11000);

/** Runs `cluster ...args` and fails the test, with its output, unless it exits 0. */
async function ok(home: string, args: string[], input?: string): Promise<CliResult> {
  const result = await cli(home, args, { input });
  if (result.exitCode !== 0) throw new Error(`cluster ${args.join(" ")} exited ${result.exitCode}: ${result.stderr}${result.stdout}`);
  return result;
}

async function createCluster(spus: number): Promise<{ home: string; base: number; token: string }> {
  const home = tempHome();
  const base = nextPortBase();
  await ok(home, ["create", "--spus", String(spus), "--port-base", String(base)]);
  return { home, base, token: readToken(clusterPaths(home, "local")) };
}

/** A raw TCP link speaking the engine's frames: the frames received, and whether the peer closed it. */
class FrameLink {
  readonly frames: Frame[] = [];
  readonly closed: Promise<void>;
  readonly #socket: Socket;
  readonly #reader = new FrameReader();
  #waiters: (() => void)[] = [];

  private constructor(socket: Socket) {
    this.#socket = socket;
    this.closed = new Promise((resolve) => socket.once("close", () => resolve()));
    socket.on("data", (chunk: Buffer) => {
      this.frames.push(...this.#reader.push(chunk));
      for (const wake of this.#waiters.splice(0)) wake();
    });
    socket.on("close", () => {
      for (const wake of this.#waiters.splice(0)) wake();
    });
    socket.on("error", () => {});
  }

  static open(port: number): Promise<FrameLink> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: "127.0.0.1", port });
      socket.once("connect", () => resolve(new FrameLink(socket)));
      socket.once("error", reject);
    });
  }

  send(...headers: { type: string; [key: string]: unknown }[]): void {
    this.#socket.write(Buffer.concat(headers.map((header) => encodeFrame(header))));
  }

  /** The first frame received; fails if the peer closes without sending one. */
  async firstFrame(): Promise<Frame> {
    while (this.frames.length === 0) {
      if (this.#socket.destroyed || this.#socket.readableEnded) throw new Error("the peer closed the connection without answering");
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
    return this.frames[0]!;
  }

  close(): void {
    this.#socket.destroy();
  }
}

describe("token checks", () => {
  const token = generateToken();
  test.each([
    ["the token", token, true],
    ["the token with a byte more", `${token}x`, false],
    ["the token less its last byte", token.slice(0, -1), false],
    ["an empty string", "", false],
    ["no value", undefined, false],
    ["a number", 42, false],
  ])("tokenMatches() with %s is %p", (_, presented, expected) => {
    expect(tokenMatches(presented, token)).toBe(expected);
  });

  test("generateToken() gives 32 random bytes as base64url, a new one each time", () => {
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(token, "base64url")).toHaveLength(32);
    expect(generateToken()).not.toBe(token);
  });
});

describe("the public ports", () => {
  test.each([
    ["an address of this machine's network", "10.1.2.3"],
    ["every address", "0.0.0.0"],
    ["a host name", "cluster.example"],
  ])("create refuses a spec whose host is %s (%s): Fluvio's clients send no credentials, so until TLS the public ports stay on loopback", async (_, host) => {
    const home = tempHome();
    const spec = join(home, "exposed.yaml");
    await Bun.write(spec, `spus: 1\nhost: ${host}\n`);
    const refused = await cli(home, ["create", "--spec", spec, "--port-base", String(nextPortBase()), "--json"]);
    expect(refused.exitCode).toBe(1);
    expect(refused.json.error.code).toBe("SPEC_INVALID");
    expect(refused.json.error.message).toContain(`host: must be a loopback IPv4 address such as 127.0.0.1`);
    expect(refused.json.error.message).toContain(`(got "${host}")`);
    expect(existsSync(clusterPaths(home, "local").dir)).toBe(false);
  });
});

describe("the private ports", () => {
  test("a connection to the SC claiming a registered SPU without the token, or with a wrong one, is refused and the SPU set is unchanged", async () => {
    const { home, base, token } = await createCluster(1);
    await ok(home, ["spu", "register", "--id", "5009"]);
    const attempts = [
      [{ type: "hello", spuId: 5009 }],
      [{ type: "hello", spuId: 5009, token: "not-the-token" }],
      [{ type: "hello", spuId: 5009, token: `${token}x` }],
      [{ type: "heartbeat" }, { type: "hello", spuId: 5009, token }],
    ];
    for (const frames of attempts) {
      const link = await FrameLink.open(base + 4);
      link.send(...frames);
      expect((await link.firstFrame()).header.type).toBe("refused");
      await link.closed;
      // Degraded (exit 1): SPU 5009 is registered beyond the spec.
      const status = await cli(home, ["status", "--json"]);
      expect(status.json.spus).toEqual({ expected: [5001], registered: [5001, 5009], online: [5001] });
    }

    const impostor = await FrameLink.open(base + 4);
    try {
      impostor.send({ type: "hello", spuId: 5009, token });
      expect((await impostor.firstFrame()).header.type).toBe("accepted");
      expect((await cli(home, ["status", "--json"])).json.spus.online).toEqual([5001, 5009]);
    } finally {
      impostor.close();
    }
    const scLog = readFileSync(join(clusterPaths(home, "local").logs, "sc.log"), "utf8");
    expect(scLog).toContain("it claimed SPU 5009 without the cluster token");
  });

  test("a follower connection to an SPU without the token, or with a wrong one, is refused and gets no records", async () => {
    const { home, base, token } = await createCluster(1);
    await ok(home, ["topic", "create", "replicated"]);
    await ok(home, ["produce", "replicated"], "secret\n");
    const { leaderEpoch } = (await ok(home, ["status", "--json"])).json.partitions[0];
    const fetchFrame = { type: "fetch", topic: "replicated", partition: 0, replicaId: 5009, leaderEpoch, offset: 0, maxBytes: 1 << 20, waitMs: 0, epochs: [] };
    const attempts = [
      [fetchFrame],
      [{ type: "hello", spuId: 5009 }, fetchFrame],
      [{ type: "hello", spuId: 5009, token: "not-the-token" }, fetchFrame],
    ];
    for (const frames of attempts) {
      const link = await FrameLink.open(base + 11);
      link.send(...frames);
      expect((await link.firstFrame()).header.type).toBe("refused");
      await link.closed;
      expect(link.frames.map((frame) => frame.header.type)).toEqual(["refused"]);
    }

    const follower = await FrameLink.open(base + 11);
    try {
      follower.send({ type: "hello", spuId: 5009, token }, fetchFrame);
      const answer = await follower.firstFrame();
      expect(answer.header).toMatchObject({ type: "records", offset: 0 });
      expect(answer.header.error).toBeUndefined();
      expect(valuesOf(answer.body)).toEqual(["secret"]);
    } finally {
      follower.close();
    }
    expect(readFileSync(join(clusterPaths(home, "local").logs, "spu-5001.log"), "utf8")).toContain("refused a follower connection from");
  });
});

/** Every regular file under `dir`. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

describe("the token", () => {
  test("appears in no process's argv or environment, no log or state file, and no output, through create, topics, produce, consume and refusals", async () => {
    const home = tempHome();
    const base = nextPortBase();
    const outputs: string[] = [];
    const run = async (args: string[], input?: string) => {
      const result = await ok(home, args, input);
      outputs.push(result.stdout, result.stderr);
      return result;
    };
    await run(["create", "--spus", "2", "--port-base", String(base), "--json"]);
    const paths = clusterPaths(home, "local");
    const token = readToken(paths);
    await run(["topic", "create", "both", "--replication", "2"]);
    await run(["produce", "both"], "one\ntwo\n");
    expect((await run(["consume", "both", "-B", "-d"])).stdout).toBe("one\ntwo\n");
    await run(["status", "--json"]);
    await run(["spu", "list", "--json"]);

    // Refusals, each presenting a wrong value that must not be logged either.
    const wrong = ["wrong-sc-value", "wrong-peer-value"];
    for (const [port, value] of [
      [base + 4, wrong[0]],
      [base + 11, wrong[1]],
    ] as const) {
      const link = await FrameLink.open(port);
      link.send({ type: "hello", spuId: 5002, token: value });
      expect((await link.firstFrame()).header.type).toBe("refused");
      await link.closed;
    }

    const processes = readState(paths).processes;
    expect(processes).toHaveLength(3);
    for (const entry of processes) {
      const argv = readFileSync(`/proc/${entry.pid}/cmdline`, "utf8").split("\0");
      expect(argv).not.toContain(token);
      expect(argv.join(" ")).not.toContain(token);
      expect(argv[argv.indexOf("--token-file") + 1]).toBe(paths.token);
      expect(readFileSync(`/proc/${entry.pid}/environ`, "utf8")).not.toContain(token);
    }
    const logs = filesUnder(paths.logs).map((file) => readFileSync(file, "utf8")).join("");
    expect(logs).toContain("it claimed SPU 5002 without the cluster token");
    expect(logs).toContain("refused a follower connection from");
    for (const secret of [token, ...wrong]) expect(logs).not.toContain(secret);
    for (const file of [paths.spec, paths.state, ...filesUnder(paths.metadata)]) expect(readFileSync(file, "utf8")).not.toContain(token);
    expect(outputs.join("")).not.toContain(token);
  });

  test("resume of a cluster created without a token makes one, and a degraded cluster whose token file is gone fails to resume with TOKEN_MISSING naming it", async () => {
    const { home, token } = await createCluster(1);
    const paths = clusterPaths(home, "local");
    await ok(home, ["shutdown"]);
    rmSync(paths.token);

    const planned = await ok(home, ["resume", "--dry-run", "--json"]);
    expect(planned.json.actions).toContainEqual({ action: "write", path: paths.token });
    expect(existsSync(paths.token)).toBe(false);
    await ok(home, ["resume"]);
    expect(statSync(paths.token).mode & 0o777).toBe(0o600);
    const renewed = readToken(paths);
    expect(renewed).not.toBe(token);
    expect(renewed).toMatch(/^[A-Za-z0-9_-]{43}$/);
    await ok(home, ["topic", "create", "after"]);

    // The SC runs on the old file's token; an SPU started now could not prove itself to it.
    rmSync(paths.token);
    const spu = readState(paths).processes.find((entry) => entry.role === "spu")!;
    process.kill(spu.pid, "SIGKILL");
    const missing = await cli(home, ["resume", "--json"]);
    expect(missing.exitCode).toBe(1);
    expect(missing.json.error.code).toBe("TOKEN_MISSING");
    expect(missing.json.error.message).toContain(`'${paths.token}'`);
    expect(missing.json.error.hint).toContain("cluster shutdown --name local");
    const status = await cli(home, ["status", "--json"]);
    expect(status.json.phase).toBe("degraded");
    expect(status.json.problems.join("\n")).toContain(`'${paths.token}'`);
  });
});

/** The TCP listeners of this network namespace on `ports`: "address:port", IPv4 and IPv6. */
function listenersOn(ports: number[]): string[] {
  const wanted = new Set(ports);
  const found: string[] = [];
  for (const [file, decode] of [
    ["/proc/net/tcp", decodeIpv4],
    ["/proc/net/tcp6", () => "ipv6"],
  ] as const) {
    for (const line of readFileSync(file, "utf8").trim().split("\n").slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      const [address, port] = local!.split(":");
      // State 0A is LISTEN.
      if (state !== "0A" || !wanted.has(parseInt(port!, 16))) continue;
      found.push(`${decode(address!)}:${parseInt(port!, 16)}`);
    }
  }
  return found.sort();
}

/** "0100007F" (little-endian hex, as /proc/net/tcp writes it) is "127.0.0.1". */
function decodeIpv4(hex: string): string {
  return [6, 4, 2, 0].map((at) => parseInt(hex.slice(at, at + 2), 16)).join(".");
}

describe("listeners", () => {
  test("every port of a cluster is listened on at 127.0.0.1 only", async () => {
    const { home } = await createCluster(2);
    const ports = readState(clusterPaths(home, "local")).processes.flatMap((entry) => entry.ports);
    expect(ports).toHaveLength(6);
    expect(listenersOn(ports)).toEqual(ports.map((port) => `127.0.0.1:${port}`).sort());
  });
});
