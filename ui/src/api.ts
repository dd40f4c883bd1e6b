// The catalog's REST API (`/api/v1`), typed by what the pages read of it.
// The token, when there is one, lives in localStorage and goes out as a Bearer header.

const TOKEN_KEY = "tributary.token";

export function getToken(): string | null {
  return localStorage.getItem(TOKEN_KEY);
}

export function setToken(token: string | null): void {
  if (token) localStorage.setItem(TOKEN_KEY, token);
  else localStorage.removeItem(TOKEN_KEY);
  window.dispatchEvent(new Event("tributary-auth"));
}

/** An answer other than 2xx, with the server's code and message for the person. */
export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
  ) {
    super(message);
  }
}

export async function api<T>(path: string, init: RequestInit = {}): Promise<T> {
  const headers = new Headers(init.headers);
  const token = getToken();
  if (token) headers.set("Authorization", `Bearer ${token}`);
  if (init.body && !headers.has("Content-Type")) headers.set("Content-Type", "application/json");
  let res: Response;
  try {
    res = await fetch(`/api/v1${path}`, { ...init, headers });
  } catch (e) {
    throw new ApiError(0, "network", `cannot reach the server: ${(e as Error).message}`);
  }
  if (!res.ok) {
    let code = "error";
    let message = `${res.status} ${res.statusText}`;
    try {
      const body = await res.json();
      code = body.error?.code ?? body.code ?? code;
      message = body.error?.message ?? body.message ?? message;
    } catch {
      /* not JSON: keep the status line */
    }
    if (res.status === 401) window.dispatchEvent(new Event("tributary-unauthenticated"));
    throw new ApiError(res.status, code, message);
  }
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

export const enc = encodeURIComponent;

export type Kind =
  | "service"
  | "database"
  | "schema"
  | "table"
  | "column"
  | "ml_model"
  | "feature"
  | "pipeline"
  | "dashboard"
  | "team";

export interface Entity {
  id: string;
  kind: Kind;
  fqn: string;
  name: string;
  parent_id: string | null;
  display_name: string | null;
  description: string | null;
  owner: string | null;
  tags: string[];
  attrs: Record<string, unknown>;
  source: string;
  version: number;
  created_at: string;
  updated_at: string;
}

export interface Edge {
  id: string;
  from: string;
  to: string;
  source: string;
  columns: { from: string; to: string }[];
  transform: string | null;
}

export interface IncidentSummary {
  id: string;
  title: string;
  severity: string;
  status: "open" | "acknowledged" | "resolved";
  fqn: string;
  opened_at: string;
}

export interface EntityDetail {
  entity: Entity;
  parents: { kind: Kind; fqn: string; name: string }[];
  children: { kind: Kind; count: number }[];
  upstream: Edge[];
  downstream: Edge[];
  incidents: IncidentSummary[];
}

export interface RunCounts {
  entities_created: number;
  entities_updated: number;
  entities_deleted: number;
  edges_added: number;
  edges_updated: number;
  edges_removed: number;
}

export interface IngestionRun {
  id: string;
  service_id: string;
  trigger: string;
  status: "running" | "succeeded" | "failed";
  started_at: string;
  finished_at: string | null;
  scheduled_for: string | null;
  counts: RunCounts;
  warnings: string[];
  error: string | null;
}

export interface Overview {
  counts: Partial<Record<Kind, number>>;
  lineage_edges: number;
  active_incidents: IncidentSummary[];
  recent_runs: (IngestionRun & { service: string })[];
}

export interface Me {
  name: string;
  role: "viewer" | "editor" | "admin" | null;
  can_edit: boolean;
}

export interface Highlight {
  field: string;
  text: string;
  ranges: [number, number][];
}

export interface SearchHit {
  id: string;
  fqn: string;
  name: string;
  kind: Kind;
  owner: string | null;
  service: string;
  description: string | null;
  matched: { tier: string; field: string; features: string[]; distance: number | null; highlights: Highlight[] };
}

export interface ModelUsingFeature {
  id: string;
  fqn: string;
  name: string;
  description: string | null;
  owner: { name: string; display_name?: string | null } | null;
  exact: boolean;
  features: { fqn: string; name: string; distance: number; sources: string[] }[];
}

export interface Suggestion {
  id: string;
  fqn: string;
  name: string;
  kind: Kind;
  owner: string | null;
  count: number;
  tier: string;
}

export interface LineageNode {
  fqn: string;
  kind: Kind;
  owner: string | null;
  distance: number;
}

export interface LineagePage {
  root: string;
  level: "table" | "column";
  nodes: LineageNode[];
  edges: { from: string; to: string; sources: string[] }[];
  total_nodes: number;
  next_cursor?: string;
}

export interface ImpactedEntity {
  fqn: string;
  kind: Kind;
  distance: number;
  path: string[];
}

export interface ImpactReport {
  root: { fqn: string; id: string; kind: Kind; owner: string | null };
  total: number;
  truncated: boolean;
  counts: Record<string, number>;
  teams: { team: string; display_name: string | null; contact: string | null; entities: ImpactedEntity[] }[];
  unowned: ImpactedEntity[];
}

export interface Incident extends IncidentSummary {
  entity_id: string;
  description: string | null;
  snapshot: ImpactReport;
  opened_by: string;
  acknowledged_by: string | null;
  acknowledged_at: string | null;
  resolved_by: string | null;
  resolved_at: string | null;
}

export interface Delivery {
  id: string;
  team: string;
  url: string;
  status: string;
  attempts: number;
  last_error: string | null;
  last_status_code: number | null;
  delivered_at: string | null;
  next_attempt_at: string;
}

export interface Service {
  id: string;
  name: string;
  fqn: string;
  service_type: string;
  description: string | null;
  owner: string | null;
  connection: Record<string, unknown>;
  ingestion: { schedule?: string | null; timezone?: string | null; timeout_secs?: number | null; retries?: number | null } | null;
}

/** The page of the UI that shows an entity best. */
export function entityPath(kind: Kind, fqn: string): string {
  switch (kind) {
    case "table":
      return `/tables/${enc(fqn)}`;
    case "ml_model":
      return `/models/${enc(fqn)}`;
    default:
      return `/entities/${enc(fqn)}`;
  }
}

export function when(at: string | null | undefined): string {
  if (!at) return "—";
  const d = new Date(at);
  return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}
