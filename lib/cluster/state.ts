/**
 * The two files that describe a cluster to the CLI: `cluster.yaml` (the resolved spec, written
 * once by `create`) and `state.yaml` (the processes started and the last verb's intent).
 * A file that cannot be read, does not parse or does not have the expected shape is
 * STATE_CORRUPT, naming the file.
 */
import { asStateCorrupt, ClusterError } from "../base/errors.ts";
import { type ClusterPaths } from "./home.ts";
import { readYamlFile, writeYamlAtomic, type FileWriter } from "../base/files.ts";
import { isAlive, type ProcessRecord } from "../base/procs.ts";
import type { ResolvedSpec } from "./spec.ts";

export type Role = "sc" | "spu";

/** A started process as `state.yaml` records it. */
export interface ProcessEntry extends ProcessRecord {
  role: Role;
  /** The SPU id; `null` for the SC. */
  id: number | null;
  ports: number[];
}

/** What the last verb set out to do; the phase a user sees is derived from live processes. */
export type Intent = "starting" | "running" | "stopping" | "stopped";

export interface ClusterState {
  intent: Intent;
  updatedAt: string;
  processes: ProcessEntry[];
}

/** The way out of a cluster's file that cannot be read back. */
function corruptHint(paths: ClusterPaths): string {
  return `fix the file by hand, or remove the cluster with 'cluster delete --name ${paths.name}'`;
}

const SPEC_HEADER = "# Written by 'cluster create'; 'cluster resume' starts exactly this.\n";

/** Writes the saved spec through `options.writer` (each write durable at once by default). */
export function writeSavedSpec(paths: ClusterPaths, spec: ResolvedSpec, options: { writer?: FileWriter } = {}): void {
  writeYamlAtomic(paths.spec, spec, { header: SPEC_HEADER, writer: options.writer });
}

/** The saved spec, or `undefined` when the cluster has none. */
export function readSavedSpec(paths: ClusterPaths): ResolvedSpec | undefined {
  const value = asStateCorrupt(() => readYamlFile(paths.spec), corruptHint(paths)) as ResolvedSpec | undefined;
  if (value === undefined) return undefined;
  const valid =
    typeof value === "object" &&
    value !== null &&
    typeof value.host === "string" &&
    Number.isInteger(value.sc?.publicPort) &&
    Number.isInteger(value.sc?.privatePort) &&
    Array.isArray(value.spus) &&
    value.spus.every(
      (spu) =>
        Number.isInteger(spu?.id) &&
        Number.isInteger(spu.publicPort) &&
        Number.isInteger(spu.privatePort) &&
        typeof spu.dataDir === "string",
    );
  if (!valid) {
    throw new ClusterError("STATE_CORRUPT", `'${paths.spec}' does not describe a cluster (missing or mistyped keys)`, {
      hint: `restore the file, or remove the cluster with 'cluster delete --name ${paths.name}'`,
    });
  }
  return value;
}

/** Writes `state.yaml` through `options.writer` (each write durable at once by default). */
export function writeState(paths: ClusterPaths, state: Omit<ClusterState, "updatedAt">, options: { writer?: FileWriter } = {}): void {
  writeYamlAtomic(paths.state, { ...state, updatedAt: new Date().toISOString() }, { writer: options.writer });
}

/** The recorded state; a cluster without `state.yaml` has started nothing. */
export function readState(paths: ClusterPaths): ClusterState {
  const value = asStateCorrupt(() => readYamlFile(paths.state), corruptHint(paths)) as ClusterState | undefined;
  if (value === undefined) return { intent: "stopped", updatedAt: "", processes: [] };
  const valid =
    typeof value === "object" &&
    value !== null &&
    Array.isArray(value.processes) &&
    value.processes.every((entry) => Number.isInteger(entry?.pid) && (entry.role === "sc" || entry.role === "spu"));
  if (!valid) {
    throw new ClusterError("STATE_CORRUPT", `'${paths.state}' does not describe processes (missing or mistyped keys)`, {
      hint: `remove the cluster with 'cluster delete --name ${paths.name}'`,
    });
  }
  return {
    ...value,
    processes: value.processes.map((entry) => ({ ...entry, startTime: entry.startTime === null ? null : String(entry.startTime) })),
  };
}

/** Whether the SC recorded in `state.yaml` still runs. */
export function isScRunning(paths: ClusterPaths): boolean {
  const sc = readState(paths).processes.find((entry) => entry.role === "sc");
  return sc !== undefined && isAlive(sc);
}
