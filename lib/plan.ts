/**
 * What a lifecycle verb would do, as data: `--dry-run` prints it (or, with `--json`, returns
 * it) and does none of it. The plans are computed by the same functions the verbs act on
 * (`planComponents`, `missingComponents`, `liveEntries`), so a dry run says what a real run does.
 */

export type PlannedAction =
  | { action: "write"; path: string }
  | { action: "start"; component: string; argv: string[]; ports: number[] }
  | { action: "check-ports"; host: string; ports: number[] }
  | { action: "signal"; component: string; pid: number; signal: "SIGTERM" }
  | { action: "remove"; path: string };

export interface Plan {
  dryRun: true;
  verb: string;
  name: string;
  /** Why nothing would be done, when nothing would ("already stopped"). */
  note?: string;
  actions: PlannedAction[];
}

function describeAction(action: PlannedAction): string {
  switch (action.action) {
    case "write":
      return `write  ${action.path}`;
    case "start":
      return `start  ${action.component} on ports ${action.ports.join(" ")}: ${action.argv.join(" ")}`;
    case "check-ports":
      return `check  ports ${action.ports.join(" ")} free on ${action.host}`;
    case "signal":
      return `signal ${action.component} (pid ${action.pid}) with ${action.signal}, then SIGKILL after the grace period`;
    case "remove":
      return `remove ${action.path}`;
  }
}

export function formatPlan(plan: Plan): string {
  const head = `${plan.verb} of cluster '${plan.name}' would (dry run, nothing done):`;
  if (plan.actions.length === 0) return `${plan.verb} of cluster '${plan.name}' would do nothing: ${plan.note ?? "nothing to do"}`;
  return [head, ...plan.actions.map((action) => `  ${describeAction(action)}`)].join("\n");
}
