/**
 * ARCHITECTURE.md's code map, held to the code: every folder of lib/ has its entry, every file an
 * entry names exists, every import between folders is one the importing folder's entry allows,
 * the CLI reaches the engine only through the faces the map names (and the engine nothing
 * outside itself but lib/base/), and no file is part of an import loop (type imports included,
 * since a loop of types is still a loop a reader must untangle).
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const ROOT = join(import.meta.dir, "..");

/** Relative specifiers of every import of `source`: static, type-only, re-exports, `import()`, `typeof import()`, `require()`. */
export function importsOf(source: string): string[] {
  const pattern =
    /(?:^|[\s;])(?:import|export)\s+(?:type\s+)?(?:[\w*\s{},]*?\sfrom\s+)?["'](\.[^"']+)["']|\bimport\(\s*["'](\.[^"']+)["']\s*\)|\brequire\(\s*["'](\.[^"']+)["']\s*\)/g;
  return [...source.matchAll(pattern)].map((match) => match[1] ?? match[2] ?? match[3]!);
}

/** Every .ts file under `dir`, relative to the root. */
function sourcesUnder(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(join(ROOT, path)).isDirectory()) return sourcesUnder(path);
    return path.endsWith(".ts") ? [path] : [];
  });
}

/** Import edges between the project's own .ts files, from `files`. */
function importEdges(files: string[]): [string, string][] {
  return files.flatMap((file) =>
    importsOf(readFileSync(join(ROOT, file), "utf8"))
      .map((specifier) => relative(ROOT, resolve(ROOT, dirname(file), specifier)))
      .filter((target) => target.endsWith(".ts"))
      .map((target): [string, string] => [file, target]),
  );
}

interface MapEntry {
  folder: string;
  mayImport: string[];
  files: string[];
  /** The files of its `Face:` line: what the CLI may import of this engine folder. */
  faces: string[];
}

/** The `### \`lib/...\`` entries of ARCHITECTURE.md's "Code map" section. */
function codeMap(): MapEntry[] {
  const text = readFileSync(join(ROOT, "ARCHITECTURE.md"), "utf8");
  const section = text.slice(text.indexOf("## Code map"), text.indexOf("\n## ", text.indexOf("## Code map") + 1));
  return section
    .split(/^### /m)
    .slice(1)
    .map((entry) => {
      const folder = /^`([^`]+)`/.exec(entry)![1]!;
      const mayImportLine = /^May import: (.*(?:\n(?!\n).*)*)/m.exec(entry)?.[1] ?? "";
      const faceLine = /^Faces?: (.*(?:\n(?!\n).*)*)/m.exec(entry)?.[1] ?? "";
      return {
        folder,
        mayImport: [...mayImportLine.matchAll(/`([^`]+\/)`/g)].map((match) => match[1]!),
        files: [...entry.matchAll(/`([\w.-]+\.ts)`/g)].map((match) => join(folder, match[1]!)),
        faces: [...faceLine.matchAll(/`([\w.-]+\.ts)`/g)].map((match) => join(folder, match[1]!)),
      };
    });
}

/** The import loops among `edges`: each strongly connected set of more than one file (Tarjan). */
function importLoops(edges: [string, string][]): string[][] {
  const next = new Map<string, string[]>();
  for (const [from, to] of edges) next.set(from, [...(next.get(from) ?? []), to]);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const loops: string[][] = [];
  const visit = (file: string): void => {
    index.set(file, index.size);
    low.set(file, index.get(file)!);
    stack.push(file);
    for (const target of next.get(file) ?? []) {
      if (!index.has(target)) {
        visit(target);
        low.set(file, Math.min(low.get(file)!, low.get(target)!));
      } else if (stack.includes(target)) {
        low.set(file, Math.min(low.get(file)!, index.get(target)!));
      }
    }
    if (low.get(file) === index.get(file)) {
      const members: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        members.push(member);
      } while (member !== file);
      if (members.length > 1 || next.get(file)?.includes(file)) loops.push(members.sort());
    }
  };
  for (const file of next.keys()) if (!index.has(file)) visit(file);
  return loops;
}

describe("importsOf()", () => {
  test.each([
    ['import { a } from "./a.ts";', ["./a.ts"]],
    ['import type { A } from "../a.ts";', ["../a.ts"]],
    ['import {\n  a,\n  type B,\n} from "./a.ts";', ["./a.ts"]],
    ['export { a } from "./a.ts";', ["./a.ts"]],
    ['import "./side-effect.ts";', ["./side-effect.ts"]],
    ['const m = await import("./lazy.ts");', ["./lazy.ts"]],
    ['type M = typeof import("./types.ts");', ["./types.ts"]],
    ['const m = require("./cjs.ts") as typeof import("./cjs.ts");', ["./cjs.ts", "./cjs.ts"]],
    ['import { $ } from "zx";\nimport { join } from "node:path";', []],
  ])("finds the relative imports of %j", (source, expected) => {
    expect(importsOf(source)).toEqual(expected);
  });
});

describe("importLoops()", () => {
  test("finds a loop of three files and leaves a chain alone", () => {
    expect(importLoops([["a", "b"], ["b", "c"], ["c", "a"], ["c", "d"]])).toEqual([["a", "b", "c"]]);
    expect(importLoops([["a", "b"], ["b", "c"]])).toEqual([]);
  });
});

describe("the code map in ARCHITECTURE.md", () => {
  const sources = sourcesUnder("lib");
  const entries = codeMap();

  test("has an entry for every folder of lib/ and no other, and every file it names exists", () => {
    const folders = [...new Set(sources.map((file) => `${dirname(file)}/`))].sort();
    expect(entries.map((entry) => entry.folder).sort()).toEqual(folders);
    const missing = entries.flatMap((entry) => entry.files).filter((file) => !sources.includes(file));
    expect(missing).toEqual([]);
    const unknownImports = entries.flatMap((entry) => entry.mayImport).filter((folder) => !folders.some((known) => known.startsWith(folder)));
    expect(unknownImports).toEqual([]);
  });

  test("every import between folders of lib/ is one the importing folder may make", () => {
    const allowed = new Map(entries.map((entry) => [entry.folder, entry.mayImport]));
    const forbidden = importEdges(sources)
      .filter(([from, to]) => to.startsWith("lib/"))
      .filter(([from, to]) => {
        const own = `${dirname(from)}/`;
        const target = `${dirname(to)}/`;
        return target !== own && !(allowed.get(own) ?? []).some((folder) => target.startsWith(folder));
      })
      .map(([from, to]) => `${from} -> ${to}`);
    expect(forbidden).toEqual([]);
  });

  test("the CLI imports an engine file only if it is a face, and a face only re-exports", () => {
    const faces = entries.flatMap((entry) => entry.faces);
    expect(faces.length).toBeGreaterThan(0);
    const pastFaces = importEdges(sources)
      .filter(([from, to]) => !from.startsWith("lib/engine/") && to.startsWith("lib/engine/") && !faces.includes(to))
      .map(([from, to]) => `${from} -> ${to}`);
    expect(pastFaces).toEqual([]);
    const withCode = faces.filter((face) => {
      const statements = readFileSync(join(ROOT, face), "utf8")
        .replace(/\/\*[\s\S]*?\*\//g, "")
        .split(";")
        .map((statement) => statement.trim())
        .filter((statement) => statement !== "");
      return !statements.every((statement) => /^export (type )?(\{[^}]*\}|\*) from "\.\/[\w.-]+\.ts"$/.test(statement));
    });
    expect(withCode).toEqual([]);
  });

  test("the engine imports nothing outside lib/engine/ but lib/base/", () => {
    const outside = importEdges(sources)
      .filter(([from, to]) => from.startsWith("lib/engine/") && !to.startsWith("lib/engine/") && !to.startsWith("lib/base/"))
      .map(([from, to]) => `${from} -> ${to}`);
    expect(outside).toEqual([]);
  });

  test("the engine throws none of the CLI's errors: no engine file names ClusterError or UsageError", () => {
    const naming = sources.filter((file) => file.startsWith("lib/engine/") && /\b(ClusterError|UsageError)\b/.test(readFileSync(join(ROOT, file), "utf8")));
    expect(naming).toEqual([]);
  });

  test("no file of lib/ or the bin is part of an import loop, type imports included", () => {
    expect(importLoops(importEdges([...sources, "cluster.ts"]))).toEqual([]);
  });
});
