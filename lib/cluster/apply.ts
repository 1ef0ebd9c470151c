/**
 * The one place a lifecycle verb's plan (lib/cluster/plan.ts) is carried out, action by action, in
 * order. A dry run comes through here too and performs only the plan's checks, which change
 * nothing, so it fails where the real run would fail first.
 *
 * Every process a plan starts is launched as the plan begins, held (its daemon reads and binds
 * nothing, lib/engine/daemon/adoption.ts) until the `write-state` after its `start` records
 * it: a Bun process takes tens of milliseconds to load its code on a busy machine, and so it
 * loads while the plan writes files and checks ports, instead of after. The order of what the
 * processes do is the plan's: nothing binds a port before `check-ports` or reads the token
 * before `write-token`.
 *
 * Consecutive actions that only write files or account for a launched process (write-spec,
 * write-token, seed-spu, write-profile, write-state, start) are performed as one group whose
 * files are made durable together (lib/base/files.ts `writeFilesTogether`, whose syncs share
 * journal commits); what needs them on disk (letting go of the home's lock, telling daemons
 * they are recorded) happens after. If any of them fails, none of the group's files appears.
 *
 * Failure policy: when an action fails, apply stops every process it started (the SC first,
 * SIGKILL after 2 s) and, if it started any, records in state.yaml those that still run;
 * then the error goes on to the verb (a failed `create` then removes the directory it made).
 * Processes launched for a `start` not reached yet are stopped with them.
 *
 * NOTE: the modules of the actions that talk to the SC (admin.ts with Fluvio's codec,
 * confirm-spus.ts) or to Fluvio's config file (fluvio-profile.ts) load when such an action
 * runs: `shutdown` has none of them, and loading them cost it about 8 ms of CPU.
 */
import type { AdminTarget } from "../fluvio/admin.ts";
import type { SpuSets } from "./confirm-spus.ts";
import { type ClusterPaths } from "./home.ts";
import { removePath, writeFilesTogether } from "../base/files.ts";
import type { StagedFluvioProfile } from "./fluvio-profile.ts";
import { ensurePortsFree, liveEntries, startComponents, stopEntries } from "./launch.ts";
import type { HeldLock } from "../base/lock.ts";
import { showPlan, type Action, type Plan, type ShownPlan } from "./plan.ts";
import { writeSavedSpec, writeState, type ProcessEntry } from "./state.ts";
import { ensureToken } from "./token.ts";
import { seedSpus } from "../engine/control-plane/mod.ts";

export interface ApplyContext {
  paths: ClusterPaths;
  /** How long each confirmation may wait. */
  timeoutMs: number;
  onProgress?: (text: string) => void;
  /**
   * The home's lock, held since the port block was chosen: the saved spec is the claim on
   * that block, so the lock is let go once `write-spec` has written it.
   */
  claim?: HeldLock;
}

/** What running a plan did. */
export interface Applied {
  /** What state.yaml recorded last: the plan's processes, less those stopped, plus those started. */
  processes: ProcessEntry[];
  started: ProcessEntry[];
  /** Stopped processes that ignored SIGTERM for the whole grace period. */
  killed: ProcessEntry[];
  /** The SPU sets `confirm-spus` confirmed. */
  spus?: SpuSets;
  /** How many partitions `confirm-leaders` found led. */
  partitions?: number;
}

const UNDO_GRACE_MS = 2_000;

type Launched = ReturnType<typeof startComponents>;

type StopAction = Extract<Action, { action: "stop" }>;

/** The actions that only write files or account for a process launched ahead: performed in groups. */
type FileAction = Extract<Action, { action: "write-spec" | "write-token" | "seed-spu" | "write-profile" | "write-state" | "start" }>;
const FILE_ACTIONS: ReadonlySet<Action["action"]> = new Set(["write-spec", "write-token", "seed-spu", "write-profile", "write-state", "start"]);

function isFileAction(action: Action | undefined): action is FileAction {
  return action !== undefined && FILE_ACTIONS.has(action.action);
}

/** Performs `plan`; on a failure, undoes its starts (see the failure policy above) and throws. */
export async function applyPlan(plan: Plan, context: ApplyContext): Promise<Applied> {
  const run = new PlanRun(plan, context);
  try {
    run.launchAhead();
    const { actions } = plan;
    for (let index = 0; index < actions.length; index++) {
      const action = actions[index]!;
      let done: Action = action;
      if (action.action === "stop") {
        const stops = [action];
        while (actions[index + 1]?.action === "stop") stops.push(actions[++index] as StopAction);
        await run.stop(stops);
        done = stops.at(-1)!;
      } else if (isFileAction(action)) {
        const group = [action];
        while (isFileAction(actions[index + 1])) group.push(actions[++index] as FileAction);
        const profiles = group.some((member) => member.action === "write-profile") ? await import("./fluvio-profile.ts") : undefined;
        run.writeTogether(group, profiles);
        for (const written of group.slice(0, -1)) if (written.progress !== undefined) context.onProgress?.(written.progress);
        done = group.at(-1)!;
      } else {
        await run.perform(action);
      }
      if (done.progress !== undefined) context.onProgress?.(done.progress);
    }
    return run.applied;
  } catch (error) {
    await run.undoStarts();
    throw error;
  }
}

/** What `--dry-run` prints: `plan` shown, once its checks (ports free) have passed. */
export async function previewPlan(plan: Plan, paths: ClusterPaths): Promise<ShownPlan> {
  await applyPlan({ ...plan, actions: plan.actions.filter((action) => action.action === "check-ports") }, { paths, timeoutMs: 0 });
  return showPlan(plan);
}

class PlanRun {
  readonly applied: Applied;
  readonly #plan: Plan;
  readonly #context: ApplyContext;
  /** Started processes waiting for the next `write-state` before they may run. */
  #unrecorded: (() => void)[] = [];
  /** Processes launched for `start` actions not reached yet, each held until it is recorded. */
  readonly #launched = new Map<Action, Launched>();
  #target: AdminTarget | undefined;

  constructor(plan: Plan, context: ApplyContext) {
    this.#plan = plan;
    this.#context = context;
    this.applied = { processes: [...plan.processes], started: [], killed: [] };
  }

  /** Launches the process of every `start` of the plan, each held until it is recorded. */
  launchAhead(): void {
    for (const action of this.#plan.actions) {
      if (action.action === "start") this.#launched.set(action, startComponents([action.component], this.#context.paths));
    }
  }

  /**
   * Performs `group` with its files written together; then lets go of the home's lock and tells
   * the processes its states record that they are (a new cluster's, once its files are there,
   * during their syncs). `profiles` is fluvio-profile.ts, loaded by the caller when the group
   * writes a profile.
   */
  writeTogether(group: FileAction[], profiles?: typeof import("./fluvio-profile.ts")): void {
    const { paths } = this.#context;
    let recorded = 0;
    // Each profile's config file stays locked until the group's files are durable.
    const staged: StagedFluvioProfile[] = [];
    // Only `create` writes the spec, and its first group only files new in a directory it made:
    // its daemons may go on once they are recorded, while the files are synced (lib/base/files.ts).
    const newCluster = group.some((action) => action.action === "write-spec");
    const release = () => {
      // The saved spec is the claim on its port block: another create may choose once it is there.
      if (newCluster) this.#context.claim?.release();
      for (const confirmRecorded of this.#unrecorded.splice(0, recorded)) confirmRecorded();
    };
    try {
      writeFilesTogether((writer) => {
        for (const action of group) {
          switch (action.action) {
            case "write-spec":
              writeSavedSpec(paths, action.spec, { writer });
              break;
            case "write-token":
              ensureToken(paths, { writer });
              break;
            case "seed-spu":
              seedSpus(action.metadataDir, { host: action.host, spus: [action.spu], writer });
              break;
            case "write-profile": {
              const profile = profiles!.stageFluvioProfile(paths, { name: action.name, endpoint: action.endpoint }, { configPath: action.path });
              staged.push(profile);
              profile.write(writer);
              break;
            }
            case "write-state":
              // A stopped cluster records no processes: whatever is left of the list has exited.
              writeState(paths, { intent: action.intent, processes: action.intent === "stopped" ? [] : this.applied.processes }, { writer });
              recorded = this.#unrecorded.length;
              break;
            case "start": {
              // Launched as the plan began (launchAhead); from here on it is started, and undone as such.
              const launched = this.#launched.get(action)!;
              this.#launched.delete(action);
              this.applied.started.push(...launched.entries);
              this.applied.processes.push(...launched.entries);
              this.#unrecorded.push(launched.confirmRecorded);
              break;
            }
          }
        }
      }, newCluster ? { onVisible: release } : {});
    } finally {
      for (const profile of staged) profile.done();
    }
    if (!newCluster) release();
  }

  async perform(action: Exclude<Action, StopAction | FileAction>): Promise<void> {
    const { paths, timeoutMs, onProgress } = this.#context;
    switch (action.action) {
      case "check-ports":
        return ensurePortsFree(action.host, action.components, paths.name);
      case "register-spu": {
        const { registerSpu } = await import("../fluvio/admin.ts");
        return registerSpu(this.#admin(action.endpoint), action.spu);
      }
      case "confirm-spus": {
        const { confirmSpus, formatSpuProgress } = await import("./confirm-spus.ts");
        this.applied.spus = await confirmSpus({
          paths,
          admin: this.#admin(action.endpoint),
          expected: action.expected,
          processes: this.applied.processes,
          timeoutMs,
          verb: this.#plan.verb,
          onProgress: (sets) => onProgress?.(formatSpuProgress(sets)),
        });
        return;
      }
      case "confirm-leaders": {
        const { confirmLeaders } = await import("./confirm-spus.ts");
        this.applied.partitions = await confirmLeaders({ admin: this.#admin(action.endpoint), logsDir: paths.logs, timeoutMs, onProgress });
        return;
      }
      case "remove":
        removePath(action.path);
        return;
      case "remove-profile": {
        const { removeFluvioProfile } = await import("./fluvio-profile.ts");
        removeFluvioProfile(paths);
        return;
      }
    }
  }

  async stop(stops: StopAction[]): Promise<void> {
    const entries = stops.map((stop) => stop.entry);
    const { killed } = await stopEntries(entries, { graceMs: stops[0]!.graceMs, clusterName: this.#plan.name });
    this.applied.killed.push(...killed);
    this.applied.processes = this.applied.processes.filter((entry) => !entries.includes(entry));
  }

  /** Stops what this run started or launched ahead and records what still runs; nothing when it started nothing. */
  async undoStarts(): Promise<void> {
    const { started } = this.applied;
    const ahead = [...this.#launched.values()].flatMap((launched) => launched.entries);
    this.#launched.clear();
    if (started.length === 0 && ahead.length === 0) return;
    await stopEntries([...started, ...ahead], { graceMs: UNDO_GRACE_MS, clusterName: this.#plan.name });
    if (started.length === 0) return;
    const stillRunning = liveEntries(this.applied.processes.filter((entry) => !started.includes(entry)));
    writeState(this.#context.paths, { intent: stillRunning.length > 0 ? "running" : "stopped", processes: stillRunning });
  }

  /** The SC's public port at `endpoint` ("host:port"), one connection for the whole run. */
  #admin(endpoint: string): AdminTarget {
    const colon = endpoint.lastIndexOf(":");
    if (this.#target?.address.port !== Number(endpoint.slice(colon + 1))) {
      this.#target = { address: { host: endpoint.slice(0, colon), port: Number(endpoint.slice(colon + 1)) } };
    }
    return this.#target;
  }
}
