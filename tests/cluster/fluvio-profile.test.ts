/**
 * The Fluvio profile: text in, text out for the edits (every byte not ours kept), the files
 * around them, and the real Fluvio client reading what was written.
 */
import { describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ClusterError } from "../../lib/base/errors.ts";
import {
  addProfile,
  fluvioConfigPath,
  profileTables,
  readFluvioProfileRecord,
  removeFluvioProfile,
  removeProfile,
  tableHeader,
  validateProfileName,
  writeFluvioProfile,
  type ProfileOwnership,
} from "../../lib/cluster/fluvio-profile.ts";
import { clusterPaths } from "../../lib/cluster/home.ts";
import { ensureDir } from "../../lib/base/files.ts";
import { CaptureListener } from "../fixtures/fluvio/capture.ts";
import { tempHome } from "../helpers.ts";

const DEV = { name: "dev", endpoint: "127.0.0.1:9003" };
const PATH = "/home/u/.fluvio/config";

const DEV_BLOCKS = `
[profile.dev]
cluster = "dev"

[cluster.dev]
endpoint = "127.0.0.1:9003"
use_spu_local_address = false

[cluster.dev.tls]
tls_policy = "disabled"
`;

/** What `fluvio cluster start` leaves: a local profile of the user's own. */
const FLUVIO_LOCAL = `version = "2.0"
current_profile = "local"

[profile.local]
cluster = "local"

[cluster.local]
endpoint = "127.0.0.1:9003"
use_spu_local_address = false

[cluster.local.tls]
tls_policy = "disabled"

[cluster.local.metadata]
installation = "local"
`;

/** Hand-written: comments, odd spacing, quoted keys, unknown keys, an array of tables. */
const HAND_WRITTEN = `# my Fluvio profiles
version = "2.0"   # keep
current_profile = "cloud" # the usual one
client_id = "me"

[profile.cloud]   # work
cluster = "cloud"
topic = "events"

[ cluster . "cloud" ]
endpoint = "cloud.example:9003"
tls = { tls_policy = "anonymous" }
x_custom = [1, 2, 3]

[[extra]]
n = 1
`;

const ownedDev = (previousCurrentProfile?: string): ProfileOwnership => ({
  name: "dev",
  tables: profileTables(DEV),
  ...(previousCurrentProfile !== undefined && { previousCurrentProfile }),
});

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    return error instanceof ClusterError ? error.code : `not a ClusterError: ${error}`;
  }
  return undefined;
}

describe("addProfile()", () => {
  test.each([
    ["an absent file", "", `version = "2.0"\ncurrent_profile = "dev"\n${DEV_BLOCKS}`],
    ["a blank file", "\n  \n", `version = "2.0"\ncurrent_profile = "dev"\n${DEV_BLOCKS}`],
    ["Fluvio's own local profile", FLUVIO_LOCAL, FLUVIO_LOCAL.replace('current_profile = "local"', 'current_profile = "dev"') + DEV_BLOCKS],
    [
      "a hand-written file",
      HAND_WRITTEN,
      HAND_WRITTEN.replace('current_profile = "cloud" # the usual one', 'current_profile = "dev" # the usual one') + DEV_BLOCKS,
    ],
    [
      "a file without current_profile",
      'version = "2.0"\n\n[profile.x]\ncluster = "x"\n',
      `version = "2.0"\ncurrent_profile = "dev"\n\n[profile.x]\ncluster = "x"\n${DEV_BLOCKS}`,
    ],
    [
      "a file with no root keys",
      '# profiles\n[profile.x]\ncluster = "x"\n',
      `current_profile = "dev"\n# profiles\n[profile.x]\ncluster = "x"\n${DEV_BLOCKS}`,
    ],
    ["a file without a final newline", 'version = "2.0"', `version = "2.0"\ncurrent_profile = "dev"\n${DEV_BLOCKS}`],
  ])("adds the entry to %s, every other byte kept", (_, text, expected) => {
    const { text: edited, ownership } = addProfile(text, DEV, undefined, PATH);
    expect(edited).toBe(expected);
    expect(ownership.tables).toEqual(profileTables(DEV));
  });

  test("the entry is what Fluvio itself writes for a local cluster", () => {
    const config = Bun.TOML.parse(addProfile("", DEV, undefined, PATH).text);
    expect(config).toEqual({
      version: "2.0",
      current_profile: "dev",
      profile: { dev: { cluster: "dev" } },
      cluster: { dev: { endpoint: "127.0.0.1:9003", use_spu_local_address: false, tls: { tls_policy: "disabled" } } },
    });
  });

  test("remembers the current profile it replaced, and keeps remembering it when run again", () => {
    const first = addProfile(FLUVIO_LOCAL, DEV, undefined, PATH);
    expect(first.ownership.previousCurrentProfile).toBe("local");
    const again = addProfile(first.text, DEV, first.ownership, PATH);
    expect(again.text).toBe(first.text);
    expect(again.ownership.previousCurrentProfile).toBe("local");
  });

  test("takes current_profile back when the user switched away, remembering what they switched to", () => {
    const first = addProfile(FLUVIO_LOCAL, DEV, undefined, PATH);
    const switched = first.text.replace('current_profile = "dev"', 'current_profile = "local"');
    const again = addProfile(switched, DEV, first.ownership, PATH);
    expect(again.text).toBe(first.text);
    expect(again.ownership.previousCurrentProfile).toBe("local");
  });

  test("switching current_profile back leaves its tables where `fluvio` put them", () => {
    const rewritten = `version = "2.0"\ncurrent_profile = "local"\n\n[profile.dev]\ncluster = "dev"\n\n[profile.local]\ncluster = "local"\n\n[cluster.dev]\nendpoint = "127.0.0.1:9003"\nuse_spu_local_address = false\n\n[cluster.dev.tls]\ntls_policy = "disabled"\n`;
    const { text } = addProfile(rewritten, DEV, ownedDev(), PATH);
    expect(text).toBe(rewritten.replace('current_profile = "local"', 'current_profile = "dev"'));
  });

  test("updates its own entry to a new endpoint, the rest kept", () => {
    const first = addProfile(FLUVIO_LOCAL, DEV, undefined, PATH);
    const moved = addProfile(first.text, { name: "dev", endpoint: "127.0.0.1:10003" }, first.ownership, PATH);
    expect(moved.text).toBe(first.text.replace("127.0.0.1:9003\"\nuse_spu_local_address = false\n\n[cluster.dev.tls]", "127.0.0.1:10003\"\nuse_spu_local_address = false\n\n[cluster.dev.tls]"));
  });

  test("an entry of its own that `fluvio` rewrote in its own layout is still its own", () => {
    const rewritten = `version = "2.0"\ncurrent_profile = "dev"\n\n[profile.dev]\ncluster = "dev"\n\n[profile.local]\ncluster = "local"\n\n[cluster.dev]\nendpoint = "127.0.0.1:9003"\nuse_spu_local_address = false\n\n[cluster.dev.tls]\ntls_policy = "disabled"\n`;
    expect(addProfile(rewritten, DEV, ownedDev(), PATH).text).toBe(rewritten);
    const moved = addProfile(rewritten, { name: "dev", endpoint: "127.0.0.1:10003" }, ownedDev(), PATH).text;
    expect(Bun.TOML.parse(moved)).toMatchObject({ profile: { local: { cluster: "local" } }, cluster: { dev: { endpoint: "127.0.0.1:10003" } } });
  });

  test.each([
    ["a profile of that name it did not write", FLUVIO_LOCAL, "local", undefined, "Fluvio profile 'local' in '/home/u/.fluvio/config' was not written by this cluster"],
    [
      "a cluster entry of that name it did not write",
      'version = "2.0"\n[profile.other]\ncluster = "dev"\n[cluster.dev]\nendpoint = "x:1"\n',
      "dev",
      undefined,
      "Fluvio cluster entry 'dev' in '/home/u/.fluvio/config' was not written by this cluster",
    ],
    [
      "its own entry changed by hand since",
      addProfile("", DEV, undefined, PATH).text.replace("use_spu_local_address = false", "use_spu_local_address = true"),
      "dev",
      ownedDev(),
      "Fluvio cluster entry 'dev' in '/home/u/.fluvio/config' was changed since this cluster wrote it",
    ],
  ])("refuses with PROFILE_EXISTS over %s", (_, text, name, owned, message) => {
    const run = () => addProfile(text, { name, endpoint: "127.0.0.1:9003" }, owned, PATH);
    expect(codeOf(run)).toBe("PROFILE_EXISTS");
    expect(run).toThrow(message);
  });

  test("PROFILE_EXISTS names the flag that chooses another profile name", () => {
    try {
      addProfile(FLUVIO_LOCAL, { name: "local", endpoint: "127.0.0.1:9003" }, undefined, PATH);
      throw new Error("no error");
    } catch (error) {
      expect((error as ClusterError).hint).toBe(
        "choose another profile name with 'cluster create --profile NAME', or remove it with 'fluvio profile delete local'",
      );
    }
  });

  test.each([
    ["a file that is not TOML", 'version = = "2.0"\n'],
    ["its own entry written as an inline table", 'version = "2.0"\nprofile = { dev = { cluster = "dev" } }\n'],
  ])("refuses with PROFILE_INVALID, changing nothing, on %s", (_, text) => {
    const owned = ownedDev();
    expect(codeOf(() => addProfile(text, DEV, owned, PATH))).toBe("PROFILE_INVALID");
  });

  test("refuses a profile name that is not a bare TOML key", () => {
    expect(() => addProfile("", { name: "my profile", endpoint: "x:1" }, undefined, PATH)).toThrow("invalid profile name 'my profile'");
  });
});

describe("removeProfile()", () => {
  test.each([
    ["Fluvio's own local profile", FLUVIO_LOCAL],
    ["a hand-written file", HAND_WRITTEN],
    ["a file without current_profile", 'version = "2.0"\n\n[profile.x]\ncluster = "x"\n'],
    ["a file with no root keys", '# profiles\n[profile.x]\ncluster = "x"\n'],
  ])("gives back %s exactly as it was before addProfile()", (_, original) => {
    const { text, ownership } = addProfile(original, DEV, undefined, PATH);
    const removal = removeProfile(text, ownership, PATH);
    expect(removal.text).toBe(original);
    expect(removal.kept).toEqual([]);
  });

  test("leaves a file that had only its entry with Fluvio's version line", () => {
    const { text, ownership } = addProfile("", DEV, undefined, PATH);
    expect(removeProfile(text, ownership, PATH)).toEqual({
      text: 'version = "2.0"\n',
      removed: ["profile.dev", "cluster.dev", "current_profile"],
      kept: [],
    });
  });

  test("keeps a table changed by hand, and removes the rest of its entry", () => {
    const { text, ownership } = addProfile(FLUVIO_LOCAL, DEV, undefined, PATH);
    const changed = text.replace('endpoint = "127.0.0.1:9003"\nuse_spu_local_address = false\n\n[cluster.dev.tls]', 'endpoint = "elsewhere:9003"\nuse_spu_local_address = false\n\n[cluster.dev.tls]');
    const removal = removeProfile(changed, ownership, PATH);
    expect(removal.removed).toEqual(["profile.dev", "current_profile"]);
    expect(removal.kept).toEqual(["cluster.dev"]);
    expect(Bun.TOML.parse(removal.text)).toMatchObject({ current_profile: "local", cluster: { dev: { endpoint: "elsewhere:9003" } } });
    expect((Bun.TOML.parse(removal.text) as any).profile.dev).toBeUndefined();
  });

  test("keeps its cluster table while another profile uses it", () => {
    const { text, ownership } = addProfile(FLUVIO_LOCAL, DEV, undefined, PATH);
    const shared = `${text}\n[profile.mine]\ncluster = "dev"\n`;
    const removal = removeProfile(shared, ownership, PATH);
    expect(removal.kept).toEqual(["cluster.dev"]);
    expect(Object.keys((Bun.TOML.parse(removal.text) as any).cluster).sort()).toEqual(["dev", "local"]);
  });

  test("leaves current_profile alone when it names another profile", () => {
    const { text, ownership } = addProfile(FLUVIO_LOCAL, DEV, undefined, PATH);
    const switched = text.replace('current_profile = "dev"', 'current_profile = "local"');
    expect(removeProfile(switched, ownership, PATH).text).toBe(FLUVIO_LOCAL);
  });

  test("removes current_profile when the profile it replaced is gone", () => {
    const { text, ownership } = addProfile(FLUVIO_LOCAL, DEV, undefined, PATH);
    const removal = removeProfile(text.replace("[profile.local]\ncluster = \"local\"\n\n", ""), ownership, PATH);
    expect(removal.removed).toContain("current_profile");
    expect(Bun.TOML.parse(removal.text)).not.toHaveProperty("current_profile");
  });

  test("restores the replaced current_profile as a double-quoted string, its comment kept", () => {
    const original = `version = "2.0"\ncurrent_profile = 'local' # mine\n\n[profile.local]\ncluster = "local"\n`;
    const { text, ownership } = addProfile(original, DEV, undefined, PATH);
    expect(removeProfile(text, ownership, PATH).text).toBe(original.replace("'local'", '"local"'));
  });

  test("keeps the comment of the current_profile line it removes", () => {
    const text = `version = "2.0"\ncurrent_profile = "dev" # ours\n${DEV_BLOCKS}`;
    expect(removeProfile(text, ownedDev(), PATH).text).toBe('version = "2.0"\n# ours\n');
  });

  test("changes nothing in a file where the entry is not there", () => {
    expect(removeProfile(FLUVIO_LOCAL, ownedDev(), PATH)).toEqual({ text: FLUVIO_LOCAL, removed: [], kept: [] });
  });

  test("changes nothing, keeping the entry, where it cannot edit exactly", () => {
    const inline = 'version = "2.0"\ncurrent_profile = "dev"\nprofile = { dev = { cluster = "dev" } }\n';
    expect(removeProfile(inline, ownedDev(), PATH)).toEqual({ text: inline, removed: [], kept: ["profile.dev"] });
  });
});

describe("tableHeader()", () => {
  test.each([
    ["[profile.dev]\n", { path: ["profile", "dev"], array: false }],
    ['[ cluster . "a.b" . \'c\' ]  # note\r\n', { path: ["cluster", "a.b", "c"], array: false }],
    ["[[extra]]\n", { path: ["extra"], array: true }],
    ['["quoted \\" key"]', { path: ['quoted " key'], array: false }],
    ["key = [1, 2]\n", undefined],
    ["[broken\n", undefined],
    ["[a..b]\n", undefined],
    ["# [profile.dev]\n", undefined],
  ])("tableHeader(%p) reads the line as a header or not", (line, header) => {
    expect(tableHeader(line)).toEqual(header);
  });
});

describe("fluvioConfigPath()", () => {
  test.each([
    ["FLV_PROFILE_PATH when it is set", { FLV_PROFILE_PATH: "/tmp/x/config", HOME: "/home/u" }, "/tmp/x/config"],
    ["FLV_PROFILE_PATH made absolute", { FLV_PROFILE_PATH: "x/config", HOME: "/home/u" }, join(process.cwd(), "x/config")],
    ["$HOME/.fluvio/config otherwise", { HOME: "/home/u" }, "/home/u/.fluvio/config"],
  ])("fluvioConfigPath() is %s", (_, env, path) => {
    expect(fluvioConfigPath(env)).toBe(path);
  });

  test("refuses an empty FLV_PROFILE_PATH", () => {
    expect(codeOf(() => fluvioConfigPath({ FLV_PROFILE_PATH: "", HOME: "/home/u" }))).toBe("PROFILE_INVALID");
  });

  test("validateProfileName() takes Fluvio-style names and refuses others", () => {
    for (const name of ["local", "dev-2", "My_Profile"]) expect(() => validateProfileName(name)).not.toThrow();
    for (const name of ["", "a.b", "a b", "x".repeat(64)]) expect(() => validateProfileName(name)).toThrow("invalid profile name");
  });
});

/** A cluster directory in a temp home, and a Fluvio config path beside it. */
function fixture(name = "dev") {
  const home = tempHome();
  const paths = clusterPaths(home, name);
  ensureDir(paths.dir);
  const configPath = join(home, "fluvio-home", ".fluvio", "config");
  return { home, paths, configPath, env: { FLV_PROFILE_PATH: configPath } };
}

describe("writeFluvioProfile() and removeFluvioProfile()", () => {
  test("writeFluvioProfile() creates the config file 0600 in a 0700 directory, and records what it wrote", () => {
    const { paths, configPath, env } = fixture();
    const written = writeFluvioProfile(paths, DEV, { env });
    expect(written.changed).toBe(true);
    expect(statSync(configPath).mode & 0o777).toBe(0o600);
    expect(statSync(join(configPath, "..")).mode & 0o777).toBe(0o700);
    expect(readFileSync(configPath, "utf8")).toBe(addProfile("", DEV, undefined, configPath).text);
    expect(readFluvioProfileRecord(paths)).toEqual({ configPath, name: "dev", tables: profileTables(DEV) });
  });

  test("writeFluvioProfile() run again (resume) changes nothing", () => {
    const { paths, configPath, env } = fixture();
    writeFluvioProfile(paths, DEV, { env });
    const before = readFileSync(configPath, "utf8");
    expect(writeFluvioProfile(paths, DEV, { env }).changed).toBe(false);
    expect(readFileSync(configPath, "utf8")).toBe(before);
  });

  test("a second cluster cannot take a profile name the first one wrote", () => {
    const first = fixture();
    writeFluvioProfile(first.paths, DEV, { env: first.env });
    const other = clusterPaths(tempHome(), "dev");
    ensureDir(other.dir);
    expect(codeOf(() => writeFluvioProfile(other, DEV, { env: first.env }))).toBe("PROFILE_EXISTS");
    expect(readFluvioProfileRecord(other)).toBeUndefined();
  });

  test("removeFluvioProfile() gives back the user's file byte for byte, keeping its mode, and drops the record", () => {
    const { paths, configPath, env } = fixture();
    mkdirSync(join(configPath, ".."), { recursive: true });
    writeFileSync(configPath, HAND_WRITTEN);
    chmodSync(configPath, 0o644);
    writeFluvioProfile(paths, DEV, { env });
    expect(statSync(configPath).mode & 0o777).toBe(0o644);
    expect(removeFluvioProfile(paths)).toEqual({ configPath, removed: ["profile.dev", "cluster.dev", "current_profile"], kept: [] });
    expect(readFileSync(configPath, "utf8")).toBe(HAND_WRITTEN);
    expect(statSync(configPath).mode & 0o777).toBe(0o644);
    expect(readFluvioProfileRecord(paths)).toBeUndefined();
    expect(removeFluvioProfile(paths)).toBeUndefined();
  });

  test("a symlinked config file is edited where it points, and stays a link", () => {
    const { home, paths, configPath, env } = fixture();
    const target = join(home, "dotfiles-fluvio-config");
    writeFileSync(target, FLUVIO_LOCAL);
    mkdirSync(join(configPath, ".."), { recursive: true });
    symlinkSync(target, configPath);
    writeFluvioProfile(paths, DEV, { env });
    expect(readlinkSync(configPath)).toBe(target);
    expect(readFileSync(target, "utf8")).toContain("[profile.dev]");
    removeFluvioProfile(paths);
    expect(readFileSync(target, "utf8")).toBe(FLUVIO_LOCAL);
  });

  test("removeFluvioProfile() never throws on the user's file: a config that is gone or not TOML is skipped", () => {
    const { paths, configPath, env } = fixture();
    writeFluvioProfile(paths, DEV, { env });
    writeFileSync(configPath, "not = = toml\n");
    expect(removeFluvioProfile(paths)).toMatchObject({ configPath, removed: [], skipped: expect.stringContaining("not valid TOML") });
    expect(readFileSync(configPath, "utf8")).toBe("not = = toml\n");

    const gone = fixture();
    writeFluvioProfile(gone.paths, DEV, { env: gone.env });
    rmSync(gone.configPath);
    expect(removeFluvioProfile(gone.paths)).toMatchObject({ removed: [], skipped: `'${gone.configPath}' is gone` });
  });

  test("writeFluvioProfile() moves the entry when FLV_PROFILE_PATH changed since it was written", () => {
    const { home, paths, configPath, env } = fixture();
    writeFluvioProfile(paths, DEV, { env });
    const newPath = join(home, "elsewhere", "config");
    writeFluvioProfile(paths, DEV, { env: { FLV_PROFILE_PATH: newPath } });
    expect(readFileSync(configPath, "utf8")).toBe('version = "2.0"\n');
    expect(Bun.TOML.parse(readFileSync(newPath, "utf8"))).toMatchObject({ current_profile: "dev" });
    expect(readFluvioProfileRecord(paths)?.configPath).toBe(newPath);
  });

  test("writeFluvioProfile() under a new name removes the entry it wrote under the old one", () => {
    const { paths, configPath, env } = fixture();
    writeFluvioProfile(paths, DEV, { env });
    writeFluvioProfile(paths, { name: "dev2", endpoint: DEV.endpoint }, { env });
    const config = Bun.TOML.parse(readFileSync(configPath, "utf8")) as any;
    expect([Object.keys(config.profile), Object.keys(config.cluster), config.current_profile]).toEqual([["dev2"], ["dev2"], "dev2"]);
  });
});

describe("the real Fluvio client reads the profile", () => {
  const LOADER = join(import.meta.dir, "..", "fluvio-client.ts");
  /** Runs the real client's no-argument connect() in a child with `env`; "connected" or the error. */
  async function connectWithoutAddress(env: Record<string, string>): Promise<string> {
    const script = `
      const { loadFluvioClient } = await import(${JSON.stringify(LOADER)});
      setTimeout(() => { console.log("timed out"); process.exit(2); }, 10_000);
      try { await loadFluvioClient().connect(); console.log("connected"); process.exit(0); }
      catch (error) { console.log(String(error)); process.exit(1); }`;
    const child = Bun.spawn([process.execPath, "-e", script], { env: { PATH: process.env.PATH ?? "", ...env }, stdout: "pipe", stderr: "ignore" });
    const output = await new Response(child.stdout).text();
    await child.exited;
    return output.trim();
  }

  test("connect() with no address reaches the endpoint written at FLV_PROFILE_PATH, and fails once it is removed", async () => {
    const listener = new CaptureListener();
    try {
      const { home, paths, env } = fixture();
      writeFluvioProfile(paths, { name: "dev", endpoint: listener.address }, { env });
      expect(await connectWithoutAddress({ ...env, HOME: home })).toBe("connected");
      const [apiVersions] = await listener.frames(1);
      expect(new DataView(apiVersions!.buffer).getUint16(4)).toBe(18);

      removeFluvioProfile(paths);
      const received = listener.received.length;
      expect(await connectWithoutAddress({ ...env, HOME: home })).toContain("no active profile");
      expect(listener.received.length).toBe(received);
    } finally {
      listener.stop();
    }
  });

  test("connect() with no address reaches the endpoint written at $HOME/.fluvio/config", async () => {
    const listener = new CaptureListener();
    try {
      const { home, paths } = fixture();
      const userHome = join(home, "user");
      writeFluvioProfile(paths, { name: "dev", endpoint: listener.address }, { env: { HOME: userHome } });
      expect(existsSync(join(userHome, ".fluvio", "config"))).toBe(true);
      expect(await connectWithoutAddress({ HOME: userHome })).toBe("connected");
      expect((await listener.frames(1)).length).toBe(1);
    } finally {
      listener.stop();
    }
  });
});
