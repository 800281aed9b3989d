/**
 * The admin API's access routes' views and checks: what a principal, key or policy looks like in
 * an answer, and the rules every change of them keeps.
 */
import {
  effectivePolicyNames,
  isManagedPolicy,
  MANAGED_POLICIES,
  parseStoredPolicy,
  policyArn,
  userArn,
} from "../../model/access.js";
import { BallastError } from "../../model/errors.js";
import { evaluate, type PolicyDocument } from "../../model/iam-policy.js";
import type { AccessPolicy, Credential, Principal } from "../../model/types.js";
import type { MutationTx } from "../../store/store.js";
import type { Json } from "./common.js";

/** An access key as the API shows it: never its secret. */
export interface KeyView {
  readonly accessKeyId: string;
  readonly principal: string;
  readonly status: "Active" | "Inactive";
  readonly createdTime: string;
  /** Keys from before policies: their role, read as a managed policy. */
  readonly role?: string;
}

export function keyView(c: Credential): KeyView {
  return {
    accessKeyId: c.accessKeyId,
    principal: c.principal,
    status: c.status ?? "Active",
    createdTime: c.createdTime,
    ...(c.role === undefined ? {} : { role: c.role }),
  };
}

export function principalView(name: string, p: Principal | undefined, keys: readonly Credential[]): Json {
  const mine = keys.filter((k) => k.principal === name);
  const effective = new Set<string>(p?.policies ?? []);
  for (const k of mine) for (const n of effectivePolicyNames(p, k)) effective.add(n);
  return {
    name,
    arn: userArn(name),
    stored: p !== undefined,
    ...(p === undefined ? {} : { createdTime: p.createdTime }),
    policies: p?.policies ?? [],
    effectivePolicies: [...effective],
    accessKeys: mine.map(keyView),
  };
}

/** Whether some active key may manage policies and keys of its own principal. */
export async function administered(tx: MutationTx): Promise<boolean> {
  for (const c of await tx.list("credential")) {
    if (c.status === "Inactive") continue;
    const principal = await tx.get("principal", c.principal);
    const docs: PolicyDocument[] = [];
    for (const name of effectivePolicyNames(principal, c)) {
      const managed = MANAGED_POLICIES.get(name);
      const stored = managed ? undefined : await tx.get("accessPolicy", name);
      const doc = managed?.document ?? (stored ? parseStoredPolicy(stored.document) : undefined);
      if (doc) docs.push(doc);
    }
    const resource = userArn(c.principal);
    if (
      evaluate(docs, { action: "ballast:ManagePolicies", resource }) === "allow" &&
      evaluate(docs, { action: "ballast:ManageCredentials", resource }) === "allow"
    )
      return true;
  }
  return false;
}

export function customerView(p: AccessPolicy): Json {
  return {
    name: p.name,
    arn: policyArn(p.name),
    type: "customer",
    ...(p.description === undefined ? {} : { description: p.description }),
    createdTime: p.createdTime,
    updatedTime: p.updatedTime,
    document: JSON.parse(p.document) as unknown,
  };
}

export async function requirePolicy(tx: MutationTx, name: string): Promise<void> {
  if (isManagedPolicy(name)) return;
  if (!(await tx.get("accessPolicy", name))) throw noSuchPolicy(name);
}

export async function requireKey(tx: MutationTx, id: string): Promise<Credential> {
  const c = await tx.get("credential", id);
  if (!c) throw new BallastError("NoSuchEntity", `The Access Key with id ${id} cannot be found.`);
  return c;
}

export function noSuchPrincipal(name: string): BallastError {
  return new BallastError("NoSuchEntity", `The user with name ${name} cannot be found.`);
}

export function noSuchPolicy(name: string): BallastError {
  return new BallastError("NoSuchEntity", `Policy ${policyArn(name)} does not exist or is not attachable.`);
}
