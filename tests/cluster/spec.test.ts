import { describe, expect, test } from "bun:test";
import { clusterPaths } from "../../lib/cluster/home.ts";
import { choosePortBase, portLayout, resolveSpec, specJsonSchema, specPorts, validateSpec } from "../../lib/cluster/spec.ts";

describe("validateSpec()", () => {
  test.each([
    [{ spus: 3 }, []],
    [{ spus: 1, portBase: 19000, host: "127.0.0.1", engine: "builtin" }, []],
    [{}, []],
    [null, []],
    [{ spus: 0 }, ["spus: must be 1..64 (got 0)"]],
    [{ spus: -1 }, ["spus: must be 1..64 (got -1)"]],
    [{ spus: 65 }, ["spus: must be 1..64 (got 65)"]],
    [{ spus: 2.5 }, ["spus: must be an integer (got 2.5)"]],
    [{ spus: "x" }, ['spus: must be an integer (got "x")']],
    [{ spus: Number.NaN }, ["spus: must be an integer (got NaN)"]],
    [{ portBase: 80 }, ["portBase: must be 1024..64894 (got 80)"]],
    [{ host: "localhost" }, ["host: must be a loopback IPv4 address such as 127.0.0.1 (Fluvio's clients send no credentials, so until TLS is supported the public ports stay on loopback) (got \"localhost\")"]],
    [{ engine: "fluvio" }, ['engine: must be one of builtin (got "fluvio")']],
    [{ replicas: 3 }, ["replicas: unknown key; known keys are spus, portBase, host, engine"]],
    [[1, 2], ["(root): must be a mapping of keys to values"]],
    ["spus: 3", ["(root): must be a mapping of keys to values"]],
    [{ spus: 0, portBase: "x" }, ["spus: must be 1..64 (got 0)", 'portBase: must be an integer (got "x")']],
  ])("validateSpec(%j) returns %j", (spec, errors) => {
    expect(validateSpec(spec)).toEqual(errors);
  });
});

describe("portLayout()", () => {
  test("portLayout() follows Fluvio's pattern from the port base", () => {
    expect(portLayout(9000, 3)).toEqual({
      sc: { publicPort: 9003, privatePort: 9004 },
      spus: [
        { id: 5001, publicPort: 9010, privatePort: 9011 },
        { id: 5002, publicPort: 9020, privatePort: 9021 },
        { id: 5003, publicPort: 9030, privatePort: 9031 },
      ],
    });
  });

  test("portLayout() of 64 SPUs stays inside one block of 1000 without overlap", () => {
    const ports = specPorts(portLayout(9000, 64));
    expect(new Set(ports).size).toBe(ports.length);
    expect(Math.max(...ports)).toBeLessThan(10000);
  });
});

describe("choosePortBase()", () => {
  const claimedBy = (...bases: number[]) => new Set(bases.flatMap((base) => specPorts(portLayout(base, 3))));
  test.each([
    [undefined, [], 9000],
    [undefined, [9000], 10000],
    [undefined, [9000, 10000], 11000],
    [undefined, [10000], 9000],
    [19000, [9000], 19000],
  ])("choosePortBase(%p) with blocks %j claimed returns %p", (requested, claimed, expected) => {
    expect(choosePortBase(requested, 3, claimedBy(...claimed))).toBe(expected);
  });

  test("choosePortBase() starts from the first base it is given", () => {
    expect(choosePortBase(undefined, 3, claimedBy(20000), 20000)).toBe(21000);
  });
});

describe("resolveSpec()", () => {
  test("resolveSpec() spells out every id, port and directory, and the Fluvio profile (the cluster's name unless given)", () => {
    const paths = clusterPaths("/h", "dev");
    const resolved = resolveSpec({ spus: 2 }, paths, 19000);
    expect(resolved).toEqual({
      version: 1,
      name: "dev",
      engine: "builtin",
      host: "127.0.0.1",
      portBase: 19000,
      metadataDir: "/h/dev/metadata",
      sc: { publicPort: 19003, privatePort: 19004 },
      spus: [
        { id: 5001, publicPort: 19010, privatePort: 19011, dataDir: "/h/dev/data/spu-5001" },
        { id: 5002, publicPort: 19020, privatePort: 19021, dataDir: "/h/dev/data/spu-5002" },
      ],
      profile: "dev",
    });
    expect(resolveSpec({ spus: 2 }, paths, 19000, "mine").profile).toBe("mine");
  });
});

describe("specs/", () => {
  test("specs/schema.json is the schema derived from the validator's definition", async () => {
    expect(await Bun.file(`${import.meta.dir}/../../specs/schema.json`).json()).toEqual(specJsonSchema());
  });
});
