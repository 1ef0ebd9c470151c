/**
 * Cluster specs: what a user asks for (`--spus 3`, or a YAML file under `specs/`), how it is
 * validated (every error with its path), and how `create` resolves it into `cluster.yaml`, in
 * which every id, port and directory is spelled out so `resume` needs nothing else.
 *
 * One table, SPEC_FIELDS, defines the spec: the validator reads it, and so does the JSON
 * schema, so the two cannot drift.
 */
import { join } from "node:path";
import { ClusterError, UsageError } from "../base/errors.ts";
import { type ClusterPaths } from "./home.ts";
import { formatYamlError } from "../base/files.ts";

export const MAX_SPUS = 64;
export const DEFAULT_PORT_BASE = 9000;
export const PORT_BLOCK_SIZE = 1000;
export const FIRST_SPU_ID = 5001;
const MAX_PORT_BASE = 65535 - (10 + 10 * (MAX_SPUS - 1) + 1);

/** The spec a user writes; every key is optional. */
export interface Spec {
  spus?: number;
  portBase?: number;
  host?: string;
  engine?: "builtin";
}

interface FieldRule {
  type: "integer" | "string";
  description: string;
  minimum?: number;
  maximum?: number;
  enum?: string[];
  pattern?: RegExp;
  patternText?: string;
  default?: number | string;
}

/** The definition of a spec: the validator and `specs/schema.json` are both derived from it. */
export const SPEC_FIELDS: Record<keyof Spec, FieldRule> = {
  spus: {
    type: "integer",
    description: "Number of SPUs (worker processes), ids 5001, 5002, ...",
    minimum: 1,
    maximum: MAX_SPUS,
    default: 1,
  },
  portBase: {
    type: "integer",
    description:
      "Port base B: SC admin B+3, SC private B+4, SPU i public B+10+10i and private B+11+10i. " +
      "Default 9000, or the next free block of 1000 in this home",
    minimum: 1024,
    maximum: MAX_PORT_BASE,
  },
  host: {
    type: "string",
    description:
      "Loopback IPv4 address every listener binds. Fluvio's clients send no credentials, so until TLS is supported the public ports stay on loopback",
    pattern: /^127(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/,
    patternText: "a loopback IPv4 address such as 127.0.0.1 (Fluvio's clients send no credentials, so until TLS is supported the public ports stay on loopback)",
    default: "127.0.0.1",
  },
  engine: {
    type: "string",
    description: "Which daemons run the cluster; 'builtin' needs nothing but Bun",
    enum: ["builtin"],
    default: "builtin",
  },
};

/** `cluster.yaml`: the resolved spec. */
export interface ResolvedSpec {
  version: 1;
  name: string;
  engine: "builtin";
  host: string;
  portBase: number;
  metadataDir: string;
  sc: { publicPort: number; privatePort: number };
  spus: ResolvedSpu[];
  /** The Fluvio profile `create` wrote for the cluster (absent in specs saved before profiles: the cluster's name). */
  profile?: string;
}

export interface ResolvedSpu {
  id: number;
  publicPort: number;
  privatePort: number;
  dataDir: string;
}

/** Returns one message per problem, each prefixed by its path (`spus: must be ...`); empty when valid. */
export function validateSpec(value: unknown): string[] {
  if (value === null || value === undefined) return [];
  if (typeof value !== "object" || Array.isArray(value)) return ["(root): must be a mapping of keys to values"];
  const errors: string[] = [];
  for (const [key, fieldValue] of Object.entries(value)) {
    const rule = SPEC_FIELDS[key as keyof Spec];
    if (!rule) {
      errors.push(`${key}: unknown key; known keys are ${Object.keys(SPEC_FIELDS).join(", ")}`);
      continue;
    }
    const problem = checkField(rule, fieldValue);
    if (problem) errors.push(`${key}: ${problem}`);
  }
  return errors;
}

function checkField(rule: FieldRule, value: unknown): string | undefined {
  const got = `(got ${typeof value === "number" ? String(value) : (JSON.stringify(value) ?? String(value))})`;
  if (rule.type === "integer") {
    if (typeof value !== "number" || !Number.isInteger(value)) return `must be an integer ${got}`;
    if (value < rule.minimum! || value > rule.maximum!) {
      return `must be ${rule.minimum}..${rule.maximum} ${got}`;
    }
    return undefined;
  }
  if (typeof value !== "string") return `must be a string ${got}`;
  if (rule.enum && !rule.enum.includes(value)) return `must be one of ${rule.enum.join(", ")} ${got}`;
  if (rule.pattern && !rule.pattern.test(value)) return `must be ${rule.patternText} ${got}`;
  return undefined;
}

/** Throws SPEC_INVALID listing every problem, or returns the value typed as a Spec. */
export function ensureValidSpec(value: unknown, source: string): Spec {
  const errors = validateSpec(value);
  if (errors.length > 0) {
    throw new ClusterError("SPEC_INVALID", `${source} is invalid:\n  ${errors.join("\n  ")}`, {
      hint: "fix the values above (see specs/ for examples)",
    });
  }
  return (value ?? {}) as Spec;
}

/** The SC's and each SPU's ports for a port base, in Fluvio's pattern. */
export function portLayout(portBase: number, spuCount: number) {
  return {
    sc: { publicPort: portBase + 3, privatePort: portBase + 4 },
    spus: Array.from({ length: spuCount }, (_, index) => ({
      id: FIRST_SPU_ID + index,
      publicPort: portBase + 10 + 10 * index,
      privatePort: portBase + 11 + 10 * index,
    })),
  };
}

/** Where automatic port blocks start: `$CLUSTER_PORT_BASE`, else 9000. */
export function firstPortBase(): number {
  const fromEnv = process.env.CLUSTER_PORT_BASE;
  if (!fromEnv) return DEFAULT_PORT_BASE;
  const problem = checkField(SPEC_FIELDS.portBase, Number(fromEnv));
  if (problem) throw new UsageError(`CLUSTER_PORT_BASE ${problem.replace("(got NaN)", `(got '${fromEnv}')`)}`);
  return Number(fromEnv);
}

/** Every port a resolved spec (or a bare port layout) listens on. */
export function specPorts(spec: { sc: ResolvedSpec["sc"]; spus: { publicPort: number; privatePort: number }[] }): number[] {
  return [spec.sc.publicPort, spec.sc.privatePort, ...spec.spus.flatMap((spu) => [spu.publicPort, spu.privatePort])];
}

/**
 * The port base for a new cluster: the one asked for, else the first block of 1000 from
 * `firstBase` (9000 unless `CLUSTER_PORT_BASE` says otherwise) whose ports no other cluster
 * of this home has claimed.
 */
export function choosePortBase(
  requested: number | undefined,
  spuCount: number,
  claimedPorts: Set<number>,
  firstBase = DEFAULT_PORT_BASE,
): number {
  if (requested !== undefined) return requested;
  for (let base = firstBase; base <= MAX_PORT_BASE; base += PORT_BLOCK_SIZE) {
    const layout = portLayout(base, spuCount);
    if (!specPorts(layout).some((port) => claimedPorts.has(port))) return base;
  }
  throw new ClusterError("PORT_IN_USE", "every port block of this home is claimed by another cluster", {
    hint: "delete a cluster you no longer need with 'cluster delete --name NAME', or pass --port-base",
  });
}

/** Resolves a valid spec into the `cluster.yaml` of the cluster at `paths`. */
export function resolveSpec(spec: Spec, paths: ClusterPaths, portBase: number, profile = paths.name): ResolvedSpec {
  const layout = portLayout(portBase, spec.spus ?? (SPEC_FIELDS.spus.default as number));
  return {
    version: 1,
    name: paths.name,
    engine: spec.engine ?? "builtin",
    host: spec.host ?? (SPEC_FIELDS.host.default as string),
    portBase,
    metadataDir: paths.metadata,
    sc: layout.sc,
    spus: layout.spus.map((spu) => ({ ...spu, dataDir: join(paths.data, `spu-${spu.id}`) })),
    profile,
  };
}

/** `host:port` of the SC's public port: what Fluvio clients and profiles call the endpoint. */
export function scEndpoint(spec: Pick<ResolvedSpec, "host" | "sc">): string {
  return `${spec.host}:${spec.sc.publicPort}`;
}

/** The name of the Fluvio profile of a saved cluster. */
export function profileName(spec: ResolvedSpec): string {
  return spec.profile ?? spec.name;
}

/** The spec ids, in order. */
export function expectedSpuIds(spec: ResolvedSpec): number[] {
  return spec.spus.map((spu) => spu.id);
}

/**
 * Reads a user's spec file. It is parsed with the `yaml` package (loaded only here) because a
 * person wrote it: its errors carry line and column, and it keeps YAML 1.2's rules.
 */
export async function readSpecFile(file: string): Promise<Spec> {
  const source = `spec file '${file}'`;
  let text: string;
  try {
    text = await Bun.file(file).text();
  } catch (error) {
    throw new ClusterError("SPEC_INVALID", `${source} cannot be read: ${(error as Error).message}`, {
      hint: "pass an existing file, such as specs/three-spus.yaml",
      cause: error,
    });
  }
  const { parseDocument } = await import("yaml");
  const document = parseDocument(text);
  if (document.errors.length > 0) {
    const details = document.errors.map(formatYamlError);
    throw new ClusterError("SPEC_INVALID", `${source} is not valid YAML:\n  ${details.join("\n  ")}`, {
      hint: "fix the YAML at the line above",
    });
  }
  return ensureValidSpec(document.toJS(), source);
}

/** The JSON Schema of a spec, derived from SPEC_FIELDS; `specs/schema.json` holds its output. */
export function specJsonSchema(): Record<string, unknown> {
  const properties = Object.fromEntries(
    Object.entries(SPEC_FIELDS).map(([key, rule]) => [
      key,
      {
        type: rule.type,
        description: rule.description,
        ...(rule.minimum !== undefined && { minimum: rule.minimum, maximum: rule.maximum }),
        ...(rule.enum && { enum: rule.enum }),
        ...(rule.pattern && { pattern: rule.pattern.source }),
        ...(rule.default !== undefined && { default: rule.default }),
      },
    ]),
  );
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    title: "cluster spec",
    description: "A local streaming cluster for 'cluster create --spec FILE'",
    type: "object",
    additionalProperties: false,
    properties,
  };
}
