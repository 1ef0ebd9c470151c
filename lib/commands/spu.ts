/**
 * `cluster spu list|register|unregister`: the SPUs the SC knows. With the SC running these go
 * through its admin API; with it stopped they read or edit its store directly under the
 * cluster lock, so an extra SPU that makes `resume` fail can be removed without starting it.
 */
import type { Argv } from "yargs";
import { adminTarget, listSpuEntries, registerSpu, unregisterSpu, type SpuEntry } from "../fluvio/admin.ts";
import { asStateCorrupt, ClusterError, UsageError } from "../base/errors.ts";
import { acquireLock } from "../base/lock.ts";
import { readStoredSpus, removeStoredSpu, seedSpus, type SpuObject } from "../engine/control-plane/mod.ts";
import { clusterOptions, printResult, type CommonArgs } from "../terminal/output.ts";
import { FIRST_SPU_ID, MAX_SPUS, portLayout, type ResolvedSpec } from "../cluster/spec.ts";
import { locateCluster } from "../cluster/locate.ts";
import { isScRunning } from "../cluster/state.ts";

/** A stored SPU as `spu list` shows it: offline, since the SC that would say otherwise is stopped. */
function storedSpuEntry(spu: SpuObject): SpuEntry {
  const { spuId, spuType, publicEndpoint, privateEndpoint, rack } = spu.spec;
  return {
    name: spu.name,
    spec: {
      spuId,
      spuType,
      publicEndpoint: { port: publicEndpoint.port, host: publicEndpoint.ingress[0]?.hostname ?? "" },
      privateEndpoint: { port: privateEndpoint.port, host: privateEndpoint.host },
      rack,
    },
    status: { resolution: "Offline" },
  };
}

/** The registered SPUs, from the SC; from its store, all offline, when the SC is stopped. */
export async function listClusterSpus(options: { home?: string; name?: string }): Promise<SpuEntry[]> {
  const { paths, spec } = locateCluster(options, "have-spec");
  if (isScRunning(paths)) return listSpuEntries(adminTarget(spec));
  return asStateCorrupt(() => readStoredSpus(spec.metadataDir)).map(storedSpuEntry);
}

export function formatSpuList(spus: SpuEntry[]): string {
  const rows = spus.map((spu) => [
    String(spu.spec.spuId),
    spu.name,
    spu.status.resolution,
    `${spu.spec.publicEndpoint.host}:${spu.spec.publicEndpoint.port}`,
    `${spu.spec.privateEndpoint.host}:${spu.spec.privateEndpoint.port}`,
  ]);
  const header = ["ID", "NAME", "STATUS", "PUBLIC", "PRIVATE"];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  return [header, ...rows].map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join("  ").trimEnd()).join("\n");
}

/** The ports of SPU `id`: given, or its place in the cluster's port layout. */
function spuPorts(spec: ResolvedSpec, id: number, ports: { publicPort?: number; privatePort?: number }) {
  const index = id - FIRST_SPU_ID;
  if (ports.publicPort !== undefined && ports.privatePort !== undefined) {
    return { publicPort: ports.publicPort, privatePort: ports.privatePort };
  }
  if (index < 0 || index >= MAX_SPUS) {
    throw new UsageError(`SPU ${id} has no place in the port layout: pass --public-port and --private-port`);
  }
  return portLayout(spec.portBase, index + 1).spus[index]!;
}

export async function registerClusterSpu(options: {
  home?: string;
  name?: string;
  id: number;
  publicPort?: number;
  privatePort?: number;
}): Promise<{ name: string; registered: number }> {
  const { paths, spec } = locateCluster(options, "have-spec");
  const ports = spuPorts(spec, options.id, options);
  const lock = acquireLock(paths.lock, { verb: "spu register", subject: `cluster '${paths.name}'` });
  try {
    // Decided under the lock: a resume finishing meanwhile must not leave the store edited behind a running SC.
    if (isScRunning(paths)) {
      await registerSpu(adminTarget(spec), { id: options.id, host: spec.host, ...ports });
    } else {
      if (asStateCorrupt(() => readStoredSpus(spec.metadataDir)).some((spu) => spu.spec.spuId === options.id)) {
        throw new ClusterError("SPU_EXISTS", `SPU ${options.id} is already registered in cluster '${paths.name}'`);
      }
      seedSpus(spec.metadataDir, { host: spec.host, spus: [{ id: options.id, ...ports }] });
    }
    return { name: paths.name, registered: options.id };
  } finally {
    lock.release();
  }
}

export async function unregisterClusterSpu(options: {
  home?: string;
  name?: string;
  id: number;
}): Promise<{ name: string; unregistered: number }> {
  const { paths, spec } = locateCluster(options, "have-spec");
  const lock = acquireLock(paths.lock, { verb: "spu unregister", subject: `cluster '${paths.name}'` });
  try {
    if (isScRunning(paths)) {
      await unregisterSpu(adminTarget(spec), options.id);
    } else {
      if (!asStateCorrupt(() => readStoredSpus(spec.metadataDir)).some((spu) => spu.spec.spuId === options.id)) {
        throw new ClusterError("NO_SPU", `SPU ${options.id} is not registered in cluster '${paths.name}'`, {
          hint: `'cluster spu list --name ${paths.name}' shows the registered SPUs`,
        });
      }
      removeStoredSpu(spec.metadataDir, options.id);
    }
    return { name: paths.name, unregistered: options.id };
  } finally {
    lock.release();
  }
}

interface SpuIdArgs extends CommonArgs {
  id: number;
  publicPort?: number;
  privatePort?: number;
}

/** Throws a UsageError unless `value` (of flag `--flag`) is an integer from `minimum` to `maximum`. */
function ensureIntegerFlag(flag: string, value: unknown, minimum: number, maximum: number): true {
  if (value === undefined || (Number.isInteger(value) && (value as number) >= minimum && (value as number) <= maximum)) return true;
  throw new UsageError(`--${flag} must be an integer from ${minimum} to ${maximum} (got ${Number.isNaN(value) ? "something that is not a number" : String(value)})`);
}

function idOption<T>(yargs: Argv<T>) {
  return clusterOptions(yargs)
    .option("id", { type: "number", demandOption: true, describe: "SPU id, such as 5004" })
    .check((argv) => ensureIntegerFlag("id", argv.id, 1, 2 ** 31 - 1));
}

export const spuCommand = {
  command: "spu",
  describe: "List, register and unregister the SPUs the SC knows",
  builder: (yargs: Argv) =>
    yargs
      .command({
        command: "list",
        describe: "List registered SPUs and whether each is online",
        builder: (inner: Argv) => clusterOptions(inner).example("$0 spu list --name dev", "the SPUs of cluster 'dev' and whether each is online"),
        handler: async (argv: CommonArgs) => printResult(argv, await listClusterSpus(argv), formatSpuList),
      })
      .command({
        command: "register",
        describe: "Register a custom SPU (its ports default to its place in the port layout)",
        builder: (inner: Argv) =>
          idOption(inner)
            .option("public-port", { type: "number", describe: "Public port of the SPU" })
            .option("private-port", { type: "number", describe: "Private port of the SPU" })
            .check((argv) => ensureIntegerFlag("public-port", argv.publicPort, 1, 65535) && ensureIntegerFlag("private-port", argv.privatePort, 1, 65535))
            .example("$0 spu register --id 5004", "register SPU 5004"),
        handler: async (argv: SpuIdArgs) =>
          printResult(argv, await registerClusterSpu(argv), (result) => `registered SPU ${result.registered} in cluster '${result.name}'`),
      })
      .command({
        command: "unregister",
        describe: "Unregister an SPU (works with the cluster stopped too)",
        builder: (inner: Argv) => idOption(inner).example("$0 spu unregister --id 5004", "remove SPU 5004 from the SC"),
        handler: async (argv: SpuIdArgs) =>
          printResult(argv, await unregisterClusterSpu(argv), (result) => `unregistered SPU ${result.unregistered} from cluster '${result.name}'`),
      })
      .demandCommand(1, "name a subcommand: list, register or unregister")
      .example("$0 spu unregister --id 5004", "remove an SPU that 'resume' reports as extra"),
  handler: () => {},
};
