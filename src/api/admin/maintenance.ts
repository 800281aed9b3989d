/**
 * Which admin calls are maintenance (principle 5) and what they change, for the change control
 * (auth/change-control.ts): state restore, import, compaction and applied repair; decisions on
 * guard holds; and changes to the credentials and policies of administrators — keys of, and
 * policies attached to or detached from, a principal whose policies grant a maintenance action
 * (model/access.ts MAINTENANCE_ACTIONS), a principal created with or deleted while holding
 * such a policy, and a customer policy put or deleted that grants one; and agents' own keys,
 * made or revoked (agentKeyMaintenance below).
 */

import { parsePolicy } from "../../model/iam-policy.js";
import { grantsMaintenance, MAINTENANCE_ACTIONS } from "../../model/maintenance.js";
import type { Credential } from "../../model/types.js";
import type { Store } from "../../store/store.js";
import type { Authorizer } from "../auth/authorizer.js";
import { ADMIN_PREFIX } from "./common.js";

/** What a maintenance call changes, and why it counts as maintenance (for the refusal's words). */
export interface MaintenanceCall {
  readonly loadBalancers: readonly string[] | "all";
  readonly why: string;
}

export interface MaintenanceQuery {
  readonly method: string;
  /** The full path, /admin/v1/… */
  readonly path: string;
  /** The IAM action of the route (model/access.ts ADMIN_ROUTES). */
  readonly action: string;
  readonly body: Buffer;
  readonly store: Store;
  readonly authorizer: Authorizer;
}

const ALL = "all" as const;

/** The maintenance a call does, or undefined for an everyday call. */
export async function maintenanceOf(q: MaintenanceQuery): Promise<MaintenanceCall | undefined> {
  if (AGENT_KEY_ACTIONS.includes(q.action)) return agentKeyMaintenance(q);
  if (!MAINTENANCE_ACTIONS.includes(q.action)) return undefined;
  const body = q.action === "ballast:ImportState" ? undefined : parsed(q.body);
  switch (q.action) {
    case "ballast:RestoreState": {
      const lbs = body?.loadBalancers;
      const names =
        Array.isArray(lbs) && lbs.every((n) => typeof n === "string") ? (lbs as string[]) : undefined;
      const wide = names === undefined || body?.includeCredentials === true;
      return { loadBalancers: wide ? ALL : (names as string[]), why: "restores past state" };
    }
    case "ballast:ImportState":
      return { loadBalancers: ALL, why: "replaces the state with an export" };
    case "ballast:CompactJournal":
      return { loadBalancers: ALL, why: "purges history" };
    case "ballast:RepairState":
      return body?.apply === true
        ? { loadBalancers: ALL, why: "rewrites the journal into a new epoch" }
        : undefined;
    case "ballast:ReleaseGuardHold":
      return { loadBalancers: ALL, why: "lets a change the blast-radius guard holds reach the agents" };
    case "ballast:DiscardGuardHold":
      return { loadBalancers: ALL, why: "drops a change the blast-radius guard holds" };
    case "ballast:ManageCredentials":
    case "ballast:ManagePolicies":
    case "ballast:ManagePrincipals":
      return (await touchesAdministrator(q, body))
        ? { loadBalancers: ALL, why: "changes the credentials or policies of an administrator" }
        : undefined;
  }
  return undefined;
}

const AGENT_KEY_ACTIONS: readonly string[] = ["ballast:CreateAgentKey", "ballast:RevokeAgentKey"];

/**
 * An agent key receives the private key of every certificate its zone's load balancers serve and
 * attracts their traffic once nodes are placed on it; revoking one cuts an agent off. Both are
 * maintenance — except while the installation has no load balancer at all: then a key carries
 * nothing and revoking one cuts nothing off, and a fresh multi-host installation adds its first
 * agents before any second principal exists to approve a ticket.
 */
async function agentKeyMaintenance(q: MaintenanceQuery): Promise<MaintenanceCall | undefined> {
  if ((await q.store.list("loadBalancer")).length === 0) return undefined;
  return q.action === "ballast:CreateAgentKey"
    ? {
        loadBalancers: ALL,
        why: "makes an agent key, which receives the private keys of its zone's certificates",
      }
    : { loadBalancers: ALL, why: "revokes an agent key, cutting that agent off the control plane" };
}

async function touchesAdministrator(
  q: MaintenanceQuery,
  body: Record<string, unknown> | undefined,
): Promise<boolean> {
  const seg = q.path
    .slice(ADMIN_PREFIX.length)
    .split("/")
    .filter((s) => s !== "")
    .map(safeDecode);
  const [collection, id, sub, policy] = seg;
  if (collection === "principals" && id !== undefined) {
    if (await isAdministrator(q, id)) return true;
    // Created, or given a policy, that makes it one.
    if (q.method === "PUT" && sub === undefined && Array.isArray(body?.policies))
      return grants(
        q,
        (body.policies as unknown[]).filter((p): p is string => typeof p === "string"),
      );
    if (q.method === "PUT" && sub === "policies" && policy !== undefined) return grants(q, [policy]);
    return false;
  }
  if (collection === "keys" && id !== undefined) {
    const key = (await q.store.get("credential", id))?.doc;
    if (key === undefined) return false;
    if (key.role === "admin") return true;
    return isAdministrator(q, key.principal, key);
  }
  if (collection === "policies" && id !== undefined) {
    if (q.method === "DELETE") return grants(q, [id]);
    const doc = body?.document;
    try {
      if (
        doc !== undefined &&
        grantsMaintenance([parsePolicy(typeof doc === "string" ? doc : JSON.stringify(doc))])
      )
        return true;
    } catch {
      // A malformed document: the route refuses it with its own error.
    }
    return grants(q, [id]);
  }
  return false;
}

async function isAdministrator(q: MaintenanceQuery, name: string, key?: Credential): Promise<boolean> {
  const principal = (await q.store.get("principal", name))?.doc;
  const names = [...(principal?.policies ?? [])];
  if (key?.role === "admin") return true;
  if (grantsMaintenance(await q.authorizer.documents(names))) return true;
  // A principal of keys stored before policies: an admin-role key makes it an administrator.
  return (await q.store.list("credential")).some((c) => c.doc.principal === name && c.doc.role === "admin");
}

async function grants(q: MaintenanceQuery, policies: readonly string[]): Promise<boolean> {
  return grantsMaintenance(await q.authorizer.documents(policies));
}

function parsed(body: Buffer): Record<string, unknown> | undefined {
  if (body.length === 0 || body.length > 1024 * 1024) return undefined;
  try {
    const v: unknown = JSON.parse(body.toString("utf8"));
    return typeof v === "object" && v !== null && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
