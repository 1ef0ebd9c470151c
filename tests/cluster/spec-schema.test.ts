/**
 * `specs/schema.json` against what it describes: every example spec points an editor at it and
 * is valid, and a minimal JSON-Schema checker (only the keywords the schema uses) judges a
 * table of specs exactly as `validateSpec` does, so an editor's squiggles and `create` agree.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseDocument } from "yaml";
import { validateSpec } from "../../lib/cluster/spec.ts";

const SPECS_DIR = join(import.meta.dir, "..", "..", "specs");
const SCHEMA = JSON.parse(readFileSync(join(SPECS_DIR, "schema.json"), "utf8"));
const SCHEMA_LINE = "# yaml-language-server: $schema=./schema.json";

interface Schema {
  type?: "object" | "integer" | "string";
  properties?: Record<string, Schema>;
  additionalProperties?: boolean;
  minimum?: number;
  maximum?: number;
  enum?: unknown[];
  pattern?: string;
}

/** Keywords that only annotate; the checker ignores them. */
const ANNOTATIONS = new Set(["$schema", "title", "description", "default"]);
const CHECKED = new Set(["type", "properties", "additionalProperties", "minimum", "maximum", "enum", "pattern"]);

/** Throws on a keyword this checker does not implement, so a richer schema cannot pass unchecked. */
function ensureKnownKeywords(schema: Record<string, unknown>): void {
  for (const [keyword, value] of Object.entries(schema)) {
    if (!ANNOTATIONS.has(keyword) && !CHECKED.has(keyword)) throw new Error(`the test's checker does not implement '${keyword}'`);
    if (keyword === "properties") Object.values(value as Record<string, Record<string, unknown>>).forEach(ensureKnownKeywords);
  }
}

/** True when `value` satisfies `schema` under the JSON Schema 2020-12 meaning of its keywords. */
function satisfies(schema: Schema, value: unknown): boolean {
  if (schema.type === "object" && (typeof value !== "object" || value === null || Array.isArray(value))) return false;
  if (schema.type === "integer" && !Number.isInteger(value)) return false;
  if (schema.type === "string" && typeof value !== "string") return false;
  if (typeof value === "number") {
    if (schema.minimum !== undefined && value < schema.minimum) return false;
    if (schema.maximum !== undefined && value > schema.maximum) return false;
  }
  if (schema.enum && !schema.enum.some((allowed) => allowed === value)) return false;
  if (typeof value === "string" && schema.pattern !== undefined && !new RegExp(schema.pattern, "u").test(value)) return false;
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    for (const [key, child] of Object.entries(value)) {
      const property = schema.properties?.[key];
      if (property === undefined ? schema.additionalProperties === false : !satisfies(property, child)) return false;
    }
  }
  return true;
}

describe("specs/*.yaml", () => {
  const files = readdirSync(SPECS_DIR).filter((file) => file.endsWith(".yaml"));

  test("specs/ holds example specs", () => {
    expect(files.length).toBeGreaterThan(0);
  });

  test.each(files)("specs/%s points an editor at the schema and is a valid spec", (file) => {
    const text = readFileSync(join(SPECS_DIR, file), "utf8");
    expect(text.split("\n")[0]).toBe(SCHEMA_LINE);
    const document = parseDocument(text);
    expect(document.errors).toEqual([]);
    const spec = document.toJS();
    expect(validateSpec(spec)).toEqual([]);
    expect(satisfies(SCHEMA, spec)).toBe(true);
  });
});

describe("specs/schema.json", () => {
  test("specs/schema.json uses only keywords the checker below implements", () => {
    expect(() => ensureKnownKeywords(SCHEMA)).not.toThrow();
  });

  test.each([
    [{}, true],
    [{ spus: 1 }, true],
    [{ spus: 64 }, true],
    [{ spus: 3, portBase: 19000, host: "127.0.0.1", engine: "builtin" }, true],
    [{ portBase: 1024 }, true],
    [{ portBase: 64894 }, true],
    [{ host: "127.0.0.2" }, true],
    [{ host: "127.255.255.255" }, true],
    [{ host: "0.0.0.0" }, false],
    [{ host: "10.1.2.3" }, false],
    [{ spus: 0 }, false],
    [{ spus: 65 }, false],
    [{ spus: 2.5 }, false],
    [{ spus: "3" }, false],
    [{ spus: null }, false],
    [{ portBase: 1023 }, false],
    [{ portBase: 64895 }, false],
    [{ host: "localhost" }, false],
    [{ host: "256.0.0.1" }, false],
    [{ host: "127.0.0.1 " }, false],
    [{ host: 127 }, false],
    [{ engine: "fluvio" }, false],
    [{ replicas: 3 }, false],
    [[{ spus: 3 }], false],
    ["spus: 3", false],
    [3, false],
  ])("the schema and validateSpec() agree that %j is valid: %p", (spec, valid) => {
    expect(satisfies(SCHEMA, spec)).toBe(valid);
    expect(validateSpec(spec).length === 0).toBe(valid);
  });
});
