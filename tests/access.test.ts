/**
 * Access, end to end with real processes: every listener binds 127.0.0.1, and the admin API,
 * the SPUs' produce and consume endpoints and both private ports (SPU to SC, follower to
 * leader) refuse whoever does not hold the cluster token; the token itself never shows in a
 * process's argv or environment, a log, or the CLI's output. Each refusal is checked beside
 * the same request made with the token, so a test fails if the refusal is not the token's.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { clusterPaths } from "../lib/home.ts";
import { readState } from "../lib/state.ts";
import { generateToken, readToken, refuseRequest, tokenMatches } from "../lib/token.ts";
import { encodeFrame, FrameReader, type Frame } from "../lib/engine/wire/frame.ts";
import { decodeLogFrames, encodeValues } from "../lib/engine/wire/http/records.ts";
import { cli, portBlocks, tempHome, type CliResult } from "./helpers.ts";

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

/** The ways of calling without the token: none, not a bearer token, a wrong one, the token with a byte more. */
function wrongAuthorizations(token: string): (Record<string, string> | undefined)[] {
  return [undefined, { authorization: token }, { authorization: "Bearer not-the-token" }, { authorization: `Bearer ${token}x` }];
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

  test.each([
    ["no header", undefined, "no token"],
    ["the bare token", token, "no bearer token"],
    ["a wrong bearer token", "Bearer nope", "a wrong token"],
    ["the bearer token", `Bearer ${token}`, undefined],
  ])("refuseRequest() with %s says %p", (_, header, expected) => {
    const request = new Request("http://127.0.0.1/", { headers: header === undefined ? {} : { authorization: header } });
    expect(refuseRequest(request, token)).toBe(expected);
  });

  test("generateToken() gives 32 random bytes as base64url, a new one each time", () => {
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(token, "base64url")).toHaveLength(32);
    expect(generateToken()).not.toBe(token);
  });
});

describe("the admin API", () => {
  test("refuses topic creation, SPU registration and SPU listing without the token or with a wrong one, and accepts them with it", async () => {
    const { home, base, token } = await createCluster(1);
    const admin = `http://127.0.0.1:${base + 3}`;
    const topic = JSON.stringify({ name: "sneaky", partitions: 1, replication: 1 });
    const spu = JSON.stringify({ id: 5009, host: "127.0.0.1", publicPort: base + 90, privatePort: base + 91 });
    const create = (headers?: Record<string, string>) =>
      fetch(`${admin}/topics`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: topic });
    const register = (headers?: Record<string, string>) =>
      fetch(`${admin}/spus`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: spu });
    const list = (headers?: Record<string, string>) => fetch(`${admin}/spus`, { headers });

    for (const headers of wrongAuthorizations(token)) {
      const calls = [
        create(headers),
        register(headers),
        list(headers),
        fetch(`${admin}/topics`, { headers }),
        fetch(`${admin}/partitions`, { headers }),
        fetch(`${admin}/spus/5001`, { method: "DELETE", headers }),
      ];
      for (const response of await Promise.all(calls)) {
        expect(response.status).toBe(401);
        expect(((await response.json()) as { error: { code: string } }).error.code).toBe("UNAUTHORIZED");
      }
    }
    expect((await fetch(`${admin}/health`)).status).toBe(200);
    const untouched = await ok(home, ["status", "--json"]);
    expect(untouched.json.spus).toEqual({ expected: [5001], registered: [5001], online: [5001] });
    expect(untouched.json.topics).toEqual([]);

    const bearer = { authorization: `Bearer ${token}` };
    expect((await create(bearer)).status).toBe(201);
    expect((await register(bearer)).status).toBe(201);
    const listed = await list(bearer);
    expect(listed.status).toBe(200);
    expect(((await listed.json()) as { spec: { spuId: number } }[]).map((entry) => entry.spec.spuId)).toEqual([5001, 5009]);
    const changed = await cli(home, ["status", "--json"]);
    expect(changed.json.spus.registered).toEqual([5001, 5009]);
    expect(changed.json.topics.map((entry: { name: string }) => entry.name)).toEqual(["sneaky"]);

    const scLog = readFileSync(join(clusterPaths(home, "local").logs, "sc.log"), "utf8");
    expect(scLog).toContain("refused POST /topics from 127.0.0.1: no token");
    expect(scLog).toContain("refused POST /spus from 127.0.0.1: a wrong token");
  });

  test("an SPU's produce and consume endpoints refuse a request without the token or with a wrong one; health stays open", async () => {
    const { home, base, token } = await createCluster(1);
    await ok(home, ["topic", "create", "private"]);
    await ok(home, ["produce", "private"], "kept\n");
    const spu = `http://127.0.0.1:${base + 10}`;
    const body = encodeValues([Buffer.from("intruder")]);

    for (const headers of wrongAuthorizations(token)) {
      const produced = await fetch(`${spu}/produce/private/0`, { method: "POST", headers, body });
      const consumed = await fetch(`${spu}/consume/private/0?offset=0`, { headers });
      expect([produced.status, consumed.status]).toEqual([401, 401]);
      expect(((await consumed.json()) as { error: { code: string } }).error.code).toBe("UNAUTHORIZED");
    }
    expect((await fetch(`${spu}/health`)).status).toBe(200);
    expect((await ok(home, ["consume", "private", "-B", "-d"])).stdout).toBe("kept\n");

    const withToken = await fetch(`${spu}/consume/private/0?offset=0`, { headers: { authorization: `Bearer ${token}` } });
    expect(withToken.status).toBe(200);
    expect(decodeLogFrames(new Uint8Array(await withToken.arrayBuffer())).map((value) => Buffer.from(value).toString())).toEqual(["kept"]);
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
      expect(decodeLogFrames(answer.body).map((value) => Buffer.from(value).toString())).toEqual(["secret"]);
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
    const wrong = ["wrong-admin-value", "wrong-sc-value", "wrong-peer-value"];
    expect((await fetch(`http://127.0.0.1:${base + 3}/topics`, { headers: { authorization: `Bearer ${wrong[0]}` } })).status).toBe(401);
    for (const [port, value] of [
      [base + 4, wrong[1]],
      [base + 11, wrong[2]],
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
    expect(logs).toContain("refused GET /topics from 127.0.0.1: a wrong token");
    expect(logs).toContain("it claimed SPU 5002 without the cluster token");
    expect(logs).toContain("refused a follower connection from");
    for (const secret of [token, ...wrong]) expect(logs).not.toContain(secret);
    for (const file of [paths.spec, paths.state, ...filesUnder(paths.metadata)]) expect(readFileSync(file, "utf8")).not.toContain(token);
    expect(outputs.join("")).not.toContain(token);
  });

  test("resume of a cluster created without a token makes one, and a running cluster whose token file is gone fails with TOKEN_MISSING naming it", async () => {
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

    rmSync(paths.token);
    for (const args of [["topic", "list"], ["resume"]]) {
      const missing = await cli(home, [...args, "--json"]);
      expect(missing.exitCode).toBe(1);
      expect(missing.json.error.code).toBe("TOKEN_MISSING");
      expect(missing.json.error.message).toContain(`'${paths.token}'`);
      expect(missing.json.error.hint).toContain("cluster shutdown --name local");
    }
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
