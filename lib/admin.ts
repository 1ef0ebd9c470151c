/**
 * The client of the SC's admin API. SPUs come back in Fluvio's JSON shape, so this parser
 * serves any engine that speaks it.
 */
import { ClusterError } from "./errors.ts";
import type { ResolvedSpec } from "./spec.ts";

/** One SPU as the SC reports it. */
export interface SpuReport {
  id: number;
  online: boolean;
}

const REQUEST_TIMEOUT_MS = 2_000;

export function adminUrl(spec: Pick<ResolvedSpec, "host" | "sc">): string {
  return `http://${spec.host}:${spec.sc.publicPort}`;
}

/** Parses Fluvio's SPU list (`[{spec: {spuId}, status: {resolution}}]`). */
export function parseSpuList(body: unknown): SpuReport[] {
  if (!Array.isArray(body)) throw new Error("the SPU list is not a JSON array");
  return body.map((entry) => {
    const id = entry?.spec?.spuId;
    if (!Number.isInteger(id)) throw new Error(`an SPU entry has no integer spec.spuId: ${JSON.stringify(entry)}`);
    return { id, online: entry?.status?.resolution === "Online" };
  });
}

/** Calls the admin API; a connection failure throws SC_UNREACHABLE, an error answer ADMIN_ERROR. */
async function request(baseUrl: string, path: string, init: RequestInit = {}): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(baseUrl + path, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  } catch (error) {
    throw new ClusterError("SC_UNREACHABLE", `the SC admin API at ${baseUrl} does not answer`, {
      hint: "check 'cluster status'; 'cluster resume' restarts a stopped SC",
      cause: error,
    });
  }
  const body = await response.json().catch(() => undefined);
  if (!response.ok) {
    const message = (body as { error?: { message?: string } })?.error?.message ?? `HTTP ${response.status}`;
    throw new ClusterError("ADMIN_ERROR", `the SC refused ${init.method ?? "GET"} ${path}: ${message}`);
  }
  return body;
}

export async function listSpus(baseUrl: string): Promise<SpuReport[]> {
  return parseSpuList(await request(baseUrl, "/spus"));
}

/** The raw SPU list, exactly as the SC gives it (for `spu list --json`). */
export function listSpusRaw(baseUrl: string): Promise<unknown> {
  return request(baseUrl, "/spus");
}

export async function registerSpu(
  baseUrl: string,
  spu: { id: number; host: string; publicPort: number; privatePort: number },
): Promise<void> {
  await request(baseUrl, "/spus", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(spu),
  });
}

export async function unregisterSpu(baseUrl: string, id: number): Promise<void> {
  await request(baseUrl, `/spus/${id}`, { method: "DELETE" });
}
