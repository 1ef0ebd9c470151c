/**
 * A cluster's profile in Fluvio's config file, so `Fluvio.connect()` with no address and the
 * `fluvio` CLI reach it. The file is the user's: it is edited as text, never rewritten. Only
 * the `[profile.NAME]` and `[cluster.NAME]` tables this tool wrote and the root
 * `current_profile` line change; every other byte (comments, other profiles, unknown keys,
 * layout) stays as it was, and each edit is checked by parsing the result.
 *
 * What a cluster wrote is kept in its own directory (`fluvio-profile.yaml`): a table of that
 * name is this tool's only while it still holds exactly those values (compared as TOML data,
 * so a rewrite of the file by `fluvio` keeps it ours). Any other table of that name is the
 * user's: adding refuses with PROFILE_EXISTS, removing leaves it.
 *
 * The entry is what `fluvio cluster start` writes for a local cluster (fluvio/src/config at
 * v0.11.11): `[profile.NAME] cluster = NAME`, `[cluster.NAME] endpoint, use_spu_local_address
 * = false, [cluster.NAME.tls] tls_policy = "disabled"`, and `current_profile = NAME`. It has no
 * `metadata.installation`: that would make `fluvio cluster delete` treat the cluster as one of
 * its own local installs.
 */
import { chmodSync, readFileSync, realpathSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { asStateCorrupt, ClusterError, UsageError } from "../base/errors.ts";
import { type ClusterPaths } from "./home.ts";
import { ensureDir, pathExists, readYamlFile, removePath, writeFileAtomic, writeFilesTogether, writeYamlAtomic, type FileWriter } from "../base/files.ts";
import { acquireLock } from "../base/lock.ts";

/** Fluvio's own variable for its config file's path (fluvio/src/config/config.rs). */
export const FLUVIO_CONFIG_ENV = "FLV_PROFILE_PATH";
/** The `version` Fluvio writes in a config file it creates. */
const CONFIG_VERSION = "2.0";
/** A profile name is written as a bare TOML key, as Fluvio's own `local` is. */
const PROFILE_NAME_PATTERN = /^[A-Za-z0-9_-]{1,63}$/;
const RECORD_FILE = "fluvio-profile.yaml";
const RECORD_HEADER = "# What 'cluster' wrote into Fluvio's config file; 'cluster delete' removes exactly this.\n";

/** The profile to write: its name (also the name of its cluster table) and the SC's public address. */
export interface FluvioProfileEntry {
  name: string;
  /** "127.0.0.1:9003" */
  endpoint: string;
}

/** The two tables of an entry, as TOML data. */
export interface ProfileTables {
  profile: Record<string, unknown>;
  cluster: Record<string, unknown>;
}

/** What this tool wrote, as kept in the cluster's directory. */
export interface ProfileOwnership {
  name: string;
  tables: ProfileTables;
  /** The `current_profile` the file had before this entry took it; restored on removal. */
  previousCurrentProfile?: string;
}

/** The record in the cluster's directory: the ownership and the file it applies to. */
export interface FluvioProfileRecord extends ProfileOwnership {
  configPath: string;
}

/** What removing an entry did: `removed` and `kept` name TOML paths ("profile.dev", "current_profile"). */
export interface ProfileRemoval {
  text: string;
  removed: string[];
  /** Tables of the entry's name left in place: changed since written, or still used by another profile. */
  kept: string[];
}

/** Throws a UsageError unless `name` can be a profile name (letters, digits, '_' and '-'). */
export function validateProfileName(name: string): void {
  if (!PROFILE_NAME_PATTERN.test(name)) {
    throw new UsageError(`invalid profile name '${name}': use 1 to 63 characters of A-Z, a-z, 0-9, '_' and '-'`);
  }
}

/** `$FLV_PROFILE_PATH`, else `$HOME/.fluvio/config`: the file Fluvio's clients read. */
export function fluvioConfigPath(env: Record<string, string | undefined> = process.env): string {
  const fromEnv = env[FLUVIO_CONFIG_ENV];
  if (fromEnv === "") {
    throw new ClusterError("PROFILE_INVALID", `${FLUVIO_CONFIG_ENV} is set but empty`, {
      hint: `unset ${FLUVIO_CONFIG_ENV}, or set it to the Fluvio config file to use`,
    });
  }
  if (fromEnv !== undefined) return resolve(fromEnv);
  return join(env.HOME || homedir(), ".fluvio", "config");
}

/** The tables `fluvio cluster start` would write for a local cluster at `endpoint`. */
export function profileTables(entry: FluvioProfileEntry): ProfileTables {
  return {
    profile: { cluster: entry.name },
    cluster: { endpoint: entry.endpoint, use_spu_local_address: false, tls: { tls_policy: "disabled" } },
  };
}

/**
 * `text` (a Fluvio config file, "" when there is none) with `entry` added, or updated when the
 * tables of its name are `owned`, and `current_profile` set to it. Throws PROFILE_EXISTS when a
 * profile or cluster table of that name is someone else's; `configPath` names the file in errors.
 */
export function addProfile(
  text: string,
  entry: FluvioProfileEntry,
  owned: ProfileOwnership | undefined,
  configPath: string,
): { text: string; ownership: ProfileOwnership } {
  validateProfileName(entry.name);
  const before = parseConfig(text, configPath);
  const { name } = entry;
  for (const kind of ["profile", "cluster"] as const) {
    const existing = tableOf(before, kind, name);
    if (existing !== undefined && !(owned?.name === name && Bun.deepEquals(existing, owned.tables[kind], true))) {
      throw profileExists(kind, name, configPath, owned?.name === name);
    }
  }
  const tables = profileTables(entry);
  const current = typeof before.current_profile === "string" ? before.current_profile : undefined;
  const previousCurrentProfile = current === name ? owned?.previousCurrentProfile : current;
  const ownership: ProfileOwnership = { name, tables, ...(previousCurrentProfile !== undefined && { previousCurrentProfile }) };

  const tablesInPlace =
    Bun.deepEquals(tableOf(before, "profile", name), tables.profile, true) &&
    Bun.deepEquals(tableOf(before, "cluster", name), tables.cluster, true);
  if (tablesInPlace && current === name) return { text, ownership };

  const fresh = text.trim() === "";
  let lines = fresh ? [`version = ${tomlString(CONFIG_VERSION)}\n`] : splitLines(text);
  if (!tablesInPlace) lines = removeTableBlocks(lines, name, ["profile", "cluster"]);
  lines = setCurrentProfile(lines, name);
  const edited = tablesInPlace ? lines.join("") : appendBlocks(lines.join(""), entryBlocks(entry));

  const expected = structuredClone(before);
  if (fresh) expected.version = CONFIG_VERSION;
  expected.current_profile = name;
  setTable(expected, "profile", name, tables.profile);
  setTable(expected, "cluster", name, tables.cluster);
  verifyEdit(edited, expected, configPath);
  return { text: edited, ownership };
}

/**
 * `text` without the tables `owned` names, each removed only while it still holds what was
 * written (a cluster table also stays while another profile uses it); `current_profile` goes
 * back to the profile it named before, or away, when it names the removed profile. A file this
 * cannot edit exactly comes back unchanged, with the entry in `kept`.
 */
export function removeProfile(text: string, owned: ProfileOwnership, configPath: string): ProfileRemoval {
  const before = parseConfig(text, configPath);
  const { name } = owned;
  const removed: string[] = [];
  const kept: string[] = [];
  const removable: ("profile" | "cluster")[] = [];
  for (const kind of ["profile", "cluster"] as const) {
    const existing = tableOf(before, kind, name);
    if (existing === undefined) continue;
    if (Bun.deepEquals(existing, owned.tables[kind], true)) removable.push(kind);
    else kept.push(`${kind}.${name}`);
  }
  const remainingProfiles = { ...(before.profile as Record<string, unknown> | undefined) };
  if (removable.includes("profile")) delete remainingProfiles[name];
  if (removable.includes("cluster") && Object.values(remainingProfiles).some((profile) => isTable(profile) && profile.cluster === name)) {
    removable.splice(removable.indexOf("cluster"), 1);
    kept.push(`cluster.${name}`);
  }
  const resetCurrent = before.current_profile === name && removable.includes("profile");
  if (removable.length === 0 && !resetCurrent) return { text, removed, kept };

  let lines = removeTableBlocks(splitLines(text), name, removable);
  const restore = owned.previousCurrentProfile;
  const restorable = restore !== undefined && restore !== name && isTable(remainingProfiles[restore]);
  if (resetCurrent) lines = restorable ? setCurrentProfile(lines, restore) : removeCurrentProfile(lines);
  const edited = lines.join("");

  const expected = structuredClone(before);
  for (const kind of removable) deleteTable(expected, kind, name);
  if (resetCurrent) {
    if (restorable) expected.current_profile = restore;
    else delete expected.current_profile;
  }
  try {
    verifyEdit(edited, expected, configPath);
  } catch {
    return { text, removed: [], kept: [...removable.map((kind) => `${kind}.${name}`), ...kept] };
  }
  removed.push(...removable.map((kind) => `${kind}.${name}`));
  if (resetCurrent) removed.push("current_profile");
  return { text: edited, removed, kept };
}

/** What `removeFluvioProfile` did; `skipped` says why the config file was left as it was. */
export interface FluvioProfileRemoval {
  configPath?: string;
  removed: string[];
  kept: string[];
  skipped?: string;
}

/**
 * Writes `entry` into Fluvio's config file (created 0600 in a 0700 directory when absent) and
 * records it in the cluster's directory. Safe to repeat (`resume`): an entry this cluster
 * wrote is updated; anyone else's is refused with PROFILE_EXISTS. An entry it recorded under
 * another name, or in another file (FLV_PROFILE_PATH changed since), is removed first.
 */
export function writeFluvioProfile(
  paths: ClusterPaths,
  entry: FluvioProfileEntry,
  options: { configPath?: string; env?: Record<string, string | undefined> } = {},
): FluvioProfileRecord & { changed: boolean } {
  const staged = stageFluvioProfile(paths, entry, options);
  try {
    let written: (FluvioProfileRecord & { changed: boolean }) | undefined;
    writeFilesTogether((writer) => {
      written = staged.write(writer);
    });
    return written!;
  } finally {
    staged.done();
  }
}

/** A profile write made ready under the config file's lock: its files written through a group's writer, then `done`. */
export interface StagedFluvioProfile {
  /** Writes the record, then the config file if it changes, through `writer` (renamed in that order). */
  write(writer: FileWriter): FluvioProfileRecord & { changed: boolean };
  /** Gives a rewritten config file back its mode and lets go of the lock: once the group's files are durable, or it failed. */
  done(): void;
}

/**
 * What `writeFluvioProfile` does, with its writes left to a group of files written together
 * (lib/base/files.ts), so a verb's last files (`create` and `resume`: the profile and the state
 * recording the cluster running) share their syncs. Holds the config file's lock until `done`.
 */
export function stageFluvioProfile(
  paths: ClusterPaths,
  entry: FluvioProfileEntry,
  options: { configPath?: string; env?: Record<string, string | undefined> } = {},
): StagedFluvioProfile {
  const configPath = editablePath(options.configPath ?? fluvioConfigPath(options.env));
  const record = readFluvioProfileRecord(paths);
  const owned = ownedEntry(record, configPath, entry.name);
  if (record && !owned) removeRecordedEntry(record);
  ensureDir(dirname(configPath));
  const lock = acquireLock(`${configPath}.lock`, { verb: "profile", subject: `'${configPath}'`, wait: true });
  try {
    const text = readConfigText(configPath) ?? "";
    const { text: edited, ownership } = addProfile(text, entry, owned, configPath);
    const written: FluvioProfileRecord = { configPath, ...ownership };
    const changed = edited !== text;
    const mode = changed ? modeOf(configPath) : undefined;
    return {
      write(writer) {
        // The record first: a crash between the two renames leaves a record of an entry that
        // is not there (harmless), never an entry of ours that no record claims.
        writeYamlAtomic(recordPath(paths), written, { header: RECORD_HEADER, writer });
        if (changed) writer.write(configPath, edited);
        return { ...written, changed };
      },
      done() {
        try {
          if (mode !== undefined && modeOf(configPath) !== mode) chmodSync(configPath, mode);
        } finally {
          lock.release();
        }
      },
    };
  } catch (error) {
    lock.release();
    throw error;
  }
}

/**
 * Throws what `writeFluvioProfile` would (PROFILE_EXISTS, PROFILE_INVALID) without writing
 * anything, so `create` refuses a profile name that is taken before it starts a process.
 */
export function checkFluvioProfile(paths: ClusterPaths, entry: FluvioProfileEntry, configPath: string): void {
  const path = editablePath(configPath);
  addProfile(readConfigText(path) ?? "", entry, ownedEntry(readFluvioProfileRecord(paths), path, entry.name), path);
}

function ownedEntry(record: FluvioProfileRecord | undefined, configPath: string, name: string): FluvioProfileRecord | undefined {
  return record?.configPath === configPath && record.name === name ? record : undefined;
}

/**
 * Removes from Fluvio's config file what `writeFluvioProfile` recorded for this cluster, then
 * the record; `undefined` when there is no record. Never throws, so `delete` always works: a
 * config file that is gone, unreadable or not TOML (or a record that is not readable) is left
 * as it is, and `skipped` says why.
 */
export function removeFluvioProfile(paths: ClusterPaths): FluvioProfileRemoval | undefined {
  let outcome: FluvioProfileRemoval | undefined;
  try {
    const record = readFluvioProfileRecord(paths);
    outcome = record && removeRecordedEntry(record);
  } catch (error) {
    outcome = { removed: [], kept: [], skipped: (error as Error).message };
  }
  removePath(recordPath(paths));
  return outcome;
}

function removeRecordedEntry(record: FluvioProfileRecord): FluvioProfileRemoval {
  const { configPath } = record;
  if (!pathExists(configPath)) return { configPath, removed: [], kept: [], skipped: `'${configPath}' is gone` };
  try {
    const lock = acquireLock(`${configPath}.lock`, { verb: "profile", subject: `'${configPath}'`, wait: true });
    try {
      const text = readConfigText(configPath);
      if (text === undefined) return { configPath, removed: [], kept: [], skipped: `'${configPath}' is gone` };
      const { text: edited, removed, kept } = removeProfile(text, record, configPath);
      if (edited !== text) writeConfigText(configPath, edited);
      return { configPath, removed, kept };
    } finally {
      lock.release();
    }
  } catch (error) {
    return { configPath, removed: [], kept: [], skipped: (error as Error).message };
  }
}

function recordPath(paths: ClusterPaths): string {
  return join(paths.dir, RECORD_FILE);
}

/** What this cluster recorded writing into Fluvio's config file, if anything. */
export function readFluvioProfileRecord(paths: ClusterPaths): FluvioProfileRecord | undefined {
  const path = recordPath(paths);
  const value = asStateCorrupt(() => readYamlFile(path));
  if (value === undefined) return undefined;
  const record = value as Partial<FluvioProfileRecord>;
  if (
    typeof record.configPath !== "string" ||
    typeof record.name !== "string" ||
    !isTable(record.tables) ||
    !isTable(record.tables.profile) ||
    !isTable(record.tables.cluster)
  ) {
    throw new ClusterError("STATE_CORRUPT", `'${path}' does not record a Fluvio profile (configPath, name, tables)`, {
      hint: "fix the file by hand, or remove it and the profile it names from Fluvio's config",
    });
  }
  return record as FluvioProfileRecord;
}

function profileExists(kind: "profile" | "cluster", name: string, configPath: string, changedSinceWritten: boolean): ClusterError {
  const what = kind === "profile" ? `profile '${name}'` : `cluster entry '${name}'`;
  const why = changedSinceWritten ? "was changed since this cluster wrote it" : "was not written by this cluster";
  return new ClusterError("PROFILE_EXISTS", `Fluvio ${what} in '${configPath}' ${why}`, {
    hint: `choose another profile name with 'cluster create --profile NAME', or remove it with 'fluvio profile ${
      kind === "profile" ? "delete" : "delete-cluster"
    } ${name}'`,
  });
}

type TomlTable = Record<string, unknown>;

function parseConfig(text: string, configPath: string): TomlTable {
  try {
    return Bun.TOML.parse(text) as TomlTable;
  } catch (error) {
    throw new ClusterError("PROFILE_INVALID", `Fluvio's config '${configPath}' is not valid TOML (${(error as Error).message})`, {
      hint: `fix it by hand, or point ${FLUVIO_CONFIG_ENV} at another file`,
      cause: error,
    });
  }
}

/** Checks that `edited` parses to exactly `expected`: nothing but the intended tables changed. */
function verifyEdit(edited: string, expected: TomlTable, configPath: string): void {
  let actual: TomlTable | undefined;
  try {
    actual = Bun.TOML.parse(edited) as TomlTable;
  } catch {
    actual = undefined;
  }
  if (!actual || !Bun.deepEquals(withoutEmptyMaps(actual), withoutEmptyMaps(expected), true)) {
    throw new ClusterError("PROFILE_INVALID", `Fluvio's config '${configPath}' is laid out in a way this tool does not edit`, {
      hint: `add the profile by hand, or point ${FLUVIO_CONFIG_ENV} at another file`,
    });
  }
}

/** An empty `profile` or `cluster` map is the same config as none. */
function withoutEmptyMaps(config: TomlTable): TomlTable {
  const copy = { ...config };
  for (const kind of ["profile", "cluster"]) {
    if (isTable(copy[kind]) && Object.keys(copy[kind]).length === 0) delete copy[kind];
  }
  return copy;
}

function isTable(value: unknown): value is TomlTable {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function tableOf(config: TomlTable, kind: "profile" | "cluster", name: string): unknown {
  const map = config[kind];
  return isTable(map) && Object.hasOwn(map, name) ? map[name] : undefined;
}

function setTable(config: TomlTable, kind: "profile" | "cluster", name: string, table: TomlTable): void {
  if (!isTable(config[kind])) config[kind] = {};
  (config[kind] as TomlTable)[name] = structuredClone(table);
}

function deleteTable(config: TomlTable, kind: "profile" | "cluster", name: string): void {
  if (isTable(config[kind])) delete (config[kind] as TomlTable)[name];
}

/** The text of the entry's tables, each after a blank line, as `fluvio` lays them out. */
function entryBlocks(entry: FluvioProfileEntry): string {
  const name = entry.name;
  return [
    `\n[profile.${name}]\ncluster = ${tomlString(name)}\n`,
    `\n[cluster.${name}]\nendpoint = ${tomlString(entry.endpoint)}\nuse_spu_local_address = false\n`,
    `\n[cluster.${name}.tls]\ntls_policy = "disabled"\n`,
  ].join("");
}

function appendBlocks(text: string, blocks: string): string {
  return text === "" || text.endsWith("\n") ? text + blocks : `${text}\n${blocks}`;
}

/** A TOML basic string; JSON's escapes are all valid in one. */
function tomlString(value: string): string {
  return JSON.stringify(value);
}

/** Lines with their line endings, so joining them gives the text back exactly. */
function splitLines(text: string): string[] {
  return text === "" ? [] : text.split(/(?<=\n)/);
}

const HEADER_PATTERN = /^\s*(\[\[?)\s*(.*?)\s*(\]\]?)\s*(#.*)?\r?\n?$/;

/** A table header line: its key path, and whether it opens an array of tables (`[[x]]`). */
export interface TableHeader {
  path: string[];
  array: boolean;
}

/** The header on `line` (`[cluster.local.tls]`, `[[x]]`), or undefined for any other line. */
export function tableHeader(line: string): TableHeader | undefined {
  const match = HEADER_PATTERN.exec(line);
  if (!match || match[1]!.length !== match[3]!.length) return undefined;
  const path = parseDottedKey(match[2]!);
  return path && { path, array: match[1] === "[[" };
}

/** `a."b.c".'d'` → ["a", "b.c", "d"]; undefined when it is not a key. */
function parseDottedKey(key: string): string[] | undefined {
  const parts: string[] = [];
  let rest = key;
  for (;;) {
    rest = rest.trimStart();
    const part = /^(?:([A-Za-z0-9_-]+)|"((?:[^"\\]|\\.)*)"|'([^']*)')/.exec(rest);
    if (!part) return undefined;
    if (part[1] !== undefined) parts.push(part[1]);
    else if (part[2] !== undefined) parts.push(JSON.parse(`"${part[2]}"`));
    else parts.push(part[3]!);
    rest = rest.slice(part[0].length).trimStart();
    if (rest === "") return parts;
    if (!rest.startsWith(".")) return undefined;
    rest = rest.slice(1);
  }
}

/**
 * `lines` without the table blocks (a header and the lines up to the next header) of
 * `kind.name` and its sub-tables, and the one blank line before each such header. Comment
 * lines inside a removed block stay: they are the user's.
 */
function removeTableBlocks(lines: string[], name: string, kinds: readonly ("profile" | "cluster")[]): string[] {
  const kept: string[] = [];
  let removing = false;
  for (const line of lines) {
    const header = tableHeader(line);
    if (header) {
      const [kind, tableName] = header.path;
      removing = !header.array && (kinds as string[]).includes(kind!) && tableName === name;
      if (removing) {
        if (kept.length > 0 && kept[kept.length - 1]!.trim() === "") kept.pop();
        continue;
      }
    }
    if (removing && !line.trimStart().startsWith("#")) continue;
    kept.push(line);
  }
  return kept;
}

/** Index of the first table header: the root keys (`version`, `current_profile`) come before it. */
function rootEnd(lines: string[]): number {
  const index = lines.findIndex((line) => tableHeader(line) !== undefined);
  return index === -1 ? lines.length : index;
}

const CURRENT_PROFILE_PATTERN = /^(\s*current_profile\s*=\s*)("(?:[^"\\]|\\.)*"|'[^']*')(.*)$/s;

/** Sets the root `current_profile` line (keeping its trailing comment), or adds one after `version`. */
function setCurrentProfile(lines: string[], name: string): string[] {
  const end = rootEnd(lines);
  const result = [...lines];
  const index = result.slice(0, end).findIndex((line) => CURRENT_PROFILE_PATTERN.test(line));
  if (index !== -1) {
    result[index] = result[index]!.replace(CURRENT_PROFILE_PATTERN, (_, prefix: string, _value: string, tail: string) => `${prefix}${tomlString(name)}${tail}`);
    return result;
  }
  const root = result.slice(0, end);
  const versionIndex = root.findIndex((line) => /^\s*version\s*=/.test(line));
  const lastKeyIndex = root.findLastIndex((line) => line.trim() !== "" && !line.trimStart().startsWith("#"));
  const at = versionIndex !== -1 ? versionIndex + 1 : lastKeyIndex + 1;
  if (at > 0 && !result[at - 1]!.endsWith("\n")) result[at - 1] += "\n";
  result.splice(at, 0, `current_profile = ${tomlString(name)}\n`);
  return result;
}

/** Drops the root `current_profile` line; a trailing comment on it stays as a line of its own. */
function removeCurrentProfile(lines: string[]): string[] {
  const end = rootEnd(lines);
  const result: string[] = [];
  lines.forEach((line, index) => {
    const match = index < end ? CURRENT_PROFILE_PATTERN.exec(line) : null;
    if (!match) return void result.push(line);
    const comment = match[3]!.trim();
    if (comment.startsWith("#")) result.push(`${comment}${line.endsWith("\n") ? "\n" : ""}`);
  });
  return result;
}

/** The file to edit: a symlinked config is edited where it points, so the link stays a link. */
function editablePath(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

function readConfigText(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    const { code } = error as NodeJS.ErrnoException;
    if (code === "ENOENT") return undefined;
    throw new ClusterError("PROFILE_INVALID", `Fluvio's config '${path}' cannot be read (${code ?? (error as Error).message})`, {
      hint: `fix its permissions, or point ${FLUVIO_CONFIG_ENV} at another file`,
      cause: error,
    });
  }
}

/** Atomic, and keeps the mode of a file that was there (a new one is 0600). */
function writeConfigText(path: string, text: string): void {
  const mode = modeOf(path);
  writeFileAtomic(path, text);
  if (mode !== undefined) chmodSync(path, mode);
}

/** The permission bits of the file at `path`, or undefined when there is none. */
function modeOf(path: string): number | undefined {
  try {
    return statSync(path).mode & 0o7777;
  } catch {
    return undefined;
  }
}
