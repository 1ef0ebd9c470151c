/**
 * What a lifecycle verb does, as data. Each verb observes the cluster, computes a plan from
 * what it saw with a pure function (planCreate, planResume, planShutdown, planDelete, each in
 * its verb's file), and hands it to the one `applyPlan` (lib/cluster/apply.ts). `--dry-run` prints
 * that same plan, shown here without what only running it needs (a spec's contents, a
 * process's start time), so what it shows is by construction what a real run does.
 */
import { componentName, type Component } from "./launch.ts";
import type { ResolvedSpec, ResolvedSpu } from "./spec.ts";
import type { Intent, ProcessEntry } from "./state.ts";
import { storedSpuPath } from "../engine/control-plane/mod.ts";

export type LifecycleVerb = "create" | "resume" | "shutdown" | "delete";

/** One step of a plan and what it needs to run; `progress`, when set, is said once it is done. */
export type Action = (
  | { action: "write-spec"; path: string; spec: ResolvedSpec }
  | { action: "write-token"; path: string }
  /** Registers an SPU in the store of an SC that is not running (it reads it on start). */
  | { action: "seed-spu"; path: string; metadataDir: string; host: string; spu: ResolvedSpu }
  /** Records the plan's processes so far with `intent`; processes started before it may then keep running. */
  | { action: "write-state"; path: string; intent: Intent }
  | { action: "check-ports"; host: string; components: Component[] }
  | { action: "start"; component: Component }
  /** SIGTERM, then SIGKILL after `graceMs`; a run of stops is one stop, the SC first. */
  | { action: "stop"; entry: ProcessEntry; graceMs: number }
  /** Registers an SPU through the running SC's admin API. */
  | { action: "register-spu"; endpoint: string; spu: { id: number; host: string; publicPort: number; privatePort: number } }
  /** Waits until the SC's registered and online SPU sets are both `expected`, exactly. */
  | { action: "confirm-spus"; endpoint: string; expected: number[] }
  /** Waits until every partition's leader is back. */
  | { action: "confirm-leaders"; endpoint: string }
  | { action: "remove"; path: string }
  /** Writes (or updates) the cluster's profile in Fluvio's config file at `path`, and makes it current. */
  | { action: "write-profile"; path: string; name: string; endpoint: string }
  /** Removes from Fluvio's config file at `path` exactly what this cluster wrote there. */
  | { action: "remove-profile"; path: string; name: string }
) & { progress?: string };

export interface Plan {
  verb: LifecycleVerb;
  name: string;
  /** Why nothing will be started or stopped, when nothing will ("already stopped"). */
  note?: string;
  /** What state.yaml records as the plan begins; `write-state` records these, less those stopped, plus those started. */
  processes: ProcessEntry[];
  actions: Action[];
}

/** The action that registers `spu` of `spec` in the store of an SC that is not running. */
export function seedSpuAction(spec: ResolvedSpec, spu: ResolvedSpu): Action {
  return { action: "seed-spu", path: storedSpuPath(spec.metadataDir, spu.id), metadataDir: spec.metadataDir, host: spec.host, spu };
}

/** The processes `plan` stops, in the order state.yaml records them. */
export function stoppedEntries(plan: Plan): ProcessEntry[] {
  const stopped = new Set(plan.actions.flatMap((action) => (action.action === "stop" ? [action.entry] : [])));
  return plan.processes.filter((entry) => stopped.has(entry));
}

/** The components `plan` starts. */
export function startedComponents(plan: Plan): Component[] {
  return plan.actions.flatMap((action) => (action.action === "start" ? [action.component] : []));
}

/** An action as `--dry-run` shows it. */
export type ShownAction =
  | { action: "write"; path: string }
  | { action: "check-ports"; host: string; ports: number[] }
  | { action: "start"; component: string; argv: string[]; ports: number[] }
  | { action: "signal"; component: string; pid: number; signal: "SIGTERM" }
  | { action: "register-spu"; spu: number }
  | { action: "confirm-spus"; spus: number[] }
  | { action: "confirm-leaders" }
  | { action: "remove"; path: string }
  | { action: "write-profile"; path: string; profile: string; endpoint: string }
  | { action: "remove-profile"; path: string; profile: string };

/** A plan as `--dry-run` prints it (one JSON document with `--json`). */
export interface ShownPlan {
  dryRun: true;
  verb: LifecycleVerb;
  name: string;
  note?: string;
  actions: ShownAction[];
}

function showAction(action: Action): ShownAction {
  switch (action.action) {
    case "write-spec":
    case "write-token":
    case "seed-spu":
    case "write-state":
      return { action: "write", path: action.path };
    case "check-ports":
      return { action: "check-ports", host: action.host, ports: action.components.flatMap((component) => component.ports) };
    case "start":
      return { action: "start", component: action.component.name, argv: action.component.argv, ports: action.component.ports };
    case "stop":
      return { action: "signal", component: componentName(action.entry), pid: action.entry.pid, signal: "SIGTERM" };
    case "register-spu":
      return { action: "register-spu", spu: action.spu.id };
    case "confirm-spus":
      return { action: "confirm-spus", spus: action.expected };
    case "confirm-leaders":
      return { action: "confirm-leaders" };
    case "remove":
      return { action: "remove", path: action.path };
    case "write-profile":
      return { action: "write-profile", path: action.path, profile: action.name, endpoint: action.endpoint };
    case "remove-profile":
      return { action: "remove-profile", path: action.path, profile: action.name };
  }
}

export function showPlan(plan: Plan): ShownPlan {
  return {
    dryRun: true,
    verb: plan.verb,
    name: plan.name,
    ...(plan.note !== undefined && { note: plan.note }),
    actions: plan.actions.map(showAction),
  };
}

function describeAction(action: ShownAction): string {
  switch (action.action) {
    case "write":
      return `write  ${action.path}`;
    case "start":
      return `start  ${action.component} on ports ${action.ports.join(" ")}: ${action.argv.join(" ")}`;
    case "check-ports":
      return `check  ports ${action.ports.join(" ")} free on ${action.host}`;
    case "signal":
      return `signal ${action.component} (pid ${action.pid}) with ${action.signal}, then SIGKILL after the grace period`;
    case "register-spu":
      return `register SPU ${action.spu} with the running SC`;
    case "confirm-spus":
      return `wait   until the SC has exactly SPUs ${action.spus.join(", ")} registered and online`;
    case "confirm-leaders":
      return "wait   until every partition's leader is back";
    case "remove":
      return `remove ${action.path}`;
    case "write-profile":
      return `write  Fluvio profile '${action.profile}' (endpoint ${action.endpoint}) in ${action.path}, and make it current`;
    case "remove-profile":
      return `remove Fluvio profile '${action.profile}' this cluster wrote in ${action.path}`;
  }
}

export function formatPlan(plan: ShownPlan): string {
  const head = `${plan.verb} of cluster '${plan.name}' would (dry run, nothing done):`;
  if (plan.actions.length === 0) return `${plan.verb} of cluster '${plan.name}' would do nothing: ${plan.note ?? "nothing to do"}`;
  return [head, ...plan.actions.map((action) => `  ${describeAction(action)}`)].join("\n");
}
