/**
 * The Fluvio profile through the lifecycle, with real clusters and the real Fluvio client:
 * `create` writes one named after the cluster (or `--profile`) into Fluvio's config file and
 * makes it current, so a client connecting with no address reaches the cluster; a name the
 * user's file already has is refused before anything starts; `delete` removes only what the
 * cluster wrote.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { clusterPaths } from "../../lib/cluster/home.ts";
import { readState } from "../../lib/cluster/state.ts";
import { cli, portBlocks, tempHome } from "../helpers.ts";

const nextPortBase = portBlocks(13000);

/**
 * The SPU ids the real client lists after connect() with no address, run in a child whose
 * FLV_PROFILE_PATH is `config`; the error when it cannot.
 */
async function spusSeenWithoutAddress(config: string): Promise<string> {
  const loader = JSON.stringify(join(import.meta.dir, "..", "fluvio-client.ts"));
  const script = `
    const { decodeList, loadFluvioClient } = await import(${loader});
    try {
      const admin = await (await loadFluvioClient().connect()).admin();
      console.log(JSON.stringify(decodeList(await admin.listSpu()).map((spu) => spu.spec.spuId)));
      process.exit(0);
    } catch (error) { console.log(String(error)); process.exit(1); }`;
  const child = Bun.spawn([process.execPath, "-e", script], { env: { PATH: process.env.PATH ?? "", FLV_PROFILE_PATH: config }, stdout: "pipe", stderr: "ignore" });
  const [output] = await Promise.all([new Response(child.stdout).text(), child.exited]);
  return output.trim();
}

function configOf(home: string): string {
  return join(home, ".fluvio", "config");
}

describe("the Fluvio profile", () => {
  test("create writes the cluster's profile and makes it current: the real client connects with no address; delete removes it and keeps the user's", async () => {
    const home = tempHome();
    const config = configOf(home);
    mkdirSync(join(home, ".fluvio"), { recursive: true });
    const mine = `# my own cluster\nversion = "2.0"\ncurrent_profile = "staging"\n\n[profile.staging]\ncluster = "staging"\n\n[cluster.staging]\nendpoint = "10.0.0.9:9003"\n`;
    writeFileSync(config, mine);
    const base = nextPortBase();
    const created = await cli(home, ["create", "--port-base", String(base)]);
    expect(created.exitCode).toBe(0);
    const written = readFileSync(config, "utf8");
    expect(written).toStartWith(`# my own cluster\nversion = "2.0"\ncurrent_profile = "local"\n`);
    expect(Bun.TOML.parse(written)).toMatchObject({ profile: { local: { cluster: "local" } }, cluster: { local: { endpoint: `127.0.0.1:${base + 3}` } } });

    // The native client reads its environment as the process started with it: a child does.
    expect(await spusSeenWithoutAddress(config)).toBe("[5001]");

    expect((await cli(home, ["delete"])).exitCode).toBe(0);
    expect(readFileSync(config, "utf8")).toBe(mine);
  });

  test("create with a profile name the user's file has fails with PROFILE_EXISTS naming --profile, starts nothing, and --profile picks another", async () => {
    const home = tempHome();
    const config = configOf(home);
    mkdirSync(join(home, ".fluvio"), { recursive: true });
    const mine = `version = "2.0"\ncurrent_profile = "local"\n\n[profile.local]\ncluster = "local"\n\n[cluster.local]\nendpoint = "127.0.0.1:9003"\n`;
    writeFileSync(config, mine);
    const base = nextPortBase();
    const refused = await cli(home, ["create", "--port-base", String(base), "--json"]);
    expect(refused.exitCode).toBe(1);
    expect(refused.json.error.code).toBe("PROFILE_EXISTS");
    expect(refused.json.error.hint).toContain("--profile");
    expect(existsSync(clusterPaths(home, "local").dir)).toBe(false);
    expect(readFileSync(config, "utf8")).toBe(mine);

    const created = await cli(home, ["create", "--port-base", String(base), "--profile", "ours"]);
    expect(created.exitCode).toBe(0);
    expect(Bun.TOML.parse(readFileSync(config, "utf8"))).toMatchObject({
      current_profile: "ours",
      profile: { local: { cluster: "local" }, ours: { cluster: "ours" } },
      cluster: { local: { endpoint: "127.0.0.1:9003" }, ours: { endpoint: `127.0.0.1:${base + 3}` } },
    });
    // resume writes the profile again under the saved name, after a shutdown.
    expect((await cli(home, ["shutdown"])).exitCode).toBe(0);
    expect((await cli(home, ["resume"])).exitCode).toBe(0);
    expect(Bun.TOML.parse(readFileSync(config, "utf8"))).toMatchObject({ current_profile: "ours" });
    expect(readState(clusterPaths(home, "local")).processes).toHaveLength(2);
    expect((await cli(home, ["delete"])).exitCode).toBe(0);
    expect(readFileSync(config, "utf8")).toBe(mine);
  });

  test("examples/fluvio-app.ts, the README's Fluvio app, runs on a cluster the CLI created and reads back what it produced", async () => {
    const home = tempHome();
    expect((await cli(home, ["create", "--spus", "3", "--port-base", String(nextPortBase())])).exitCode).toBe(0);
    const app = Bun.spawn([process.execPath, join(import.meta.dir, "..", "..", "examples", "fluvio-app.ts")], {
      env: { PATH: process.env.PATH ?? "", FLV_PROFILE_PATH: configOf(home) },
      stdout: "pipe",
      stderr: "ignore",
    });
    const [output, code] = await Promise.all([new Response(app.stdout).text(), app.exited]);
    expect(output).toBe("en: hello\nfr: bonjour\nde: hallo\n");
    expect(code).toBe(0);
    expect((await cli(home, ["consume", "greetings", "-B", "-d"])).stdout).toBe("hello\nbonjour\nhallo\n");
  });
});
