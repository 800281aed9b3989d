/**
 * The admin JSON API of who may do what: principals (IAM users), their access keys, and policies.
 * Every change is a journal revision like any other. Secrets leave only once: in the answer that
 * creates (or rotates) a key.
 *
 *   GET    /admin/v1/principals                       → { principals: PrincipalView[] }
 *   GET    /admin/v1/principals/{name}                → { principal }
 *   PUT    /admin/v1/principals/{name}  {policies?}   → { principal }      (create; 409 if it exists)
 *   DELETE /admin/v1/principals/{name}                → { deleted }        (409 while it has keys)
 *   POST   /admin/v1/principals/{name}/keys           → { accessKey }      (with its secret, once)
 *   PUT    /admin/v1/principals/{name}/policies/{p}   → { principal }      (attach)
 *   DELETE /admin/v1/principals/{name}/policies/{p}   → { principal }      (detach)
 *   GET    /admin/v1/keys[?principal=]                → { accessKeys }     (never a secret)
 *   POST   /admin/v1/keys/{id}/rotate                 → { accessKey, deactivated }
 *   POST   /admin/v1/keys/{id}/deactivate|activate    → { accessKey }
 *   DELETE /admin/v1/keys/{id}                        → { deleted }
 *   GET    /admin/v1/policies                         → { policies }       (managed and customer)
 *   GET    /admin/v1/policies/{name}                  → { policy }         (with its document)
 *   PUT    /admin/v1/policies/{name}  {document, description?}  → { policy } (create or replace)
 *   DELETE /admin/v1/policies/{name}                  → { deleted }        (409 while attached; managed: 409)
 *
 * A principal that exists only through keys stored before policies (their `role`) is listed as
 * such; attaching a policy to it, or creating it, stores it — its keys keep their role's policy.
 */
import {
  isManagedPolicy,
  MANAGED_POLICIES,
  policyArn,
  validatePolicyName,
  validatePrincipalName,
} from "../../model/access.js";
import { BallastError } from "../../model/errors.js";
import { parsePolicy, policyJson } from "../../model/iam-policy.js";
import type { AccessPolicy, Credential, Principal } from "../../model/types.js";
import type { MutationTx, Store } from "../../store/store.js";
import { generateAccessKeyId, generateSecretAccessKey } from "../auth/bootstrap.js";
import {
  administered,
  customerView,
  keyView,
  noSuchPolicy,
  noSuchPrincipal,
  principalView,
  requireKey,
  requirePolicy,
} from "./access-views.js";
import { ADMIN_PREFIX, type AdminCall, isBelow, type Json, jsonObject } from "./common.js";

const PRINCIPALS = `${ADMIN_PREFIX}/principals`;
const KEYS = `${ADMIN_PREFIX}/keys`;
const POLICIES = `${ADMIN_PREFIX}/policies`;

export function isAccessPath(path: string): boolean {
  return isBelow(path, PRINCIPALS) || isBelow(path, KEYS) || isBelow(path, POLICIES);
}

function segments(path: string, prefix: string): string[] {
  return path
    .slice(prefix.length)
    .split("/")
    .filter((s) => s !== "")
    .map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        throw new BallastError("ValidationError", "The resource id is not valid percent-encoding");
      }
    });
}

function noRoute(call: AdminCall): BallastError {
  return new BallastError("NotFound", `No route for ${call.method} ${call.path}`);
}

export function createAccessRoutes(opts: {
  readonly store: Store;
  readonly now?: () => Date;
}): (call: AdminCall, query: URLSearchParams) => Promise<Json> {
  const { store } = opts;
  const now = (): string => (opts.now ?? (() => new Date()))().toISOString();

  return async (call, query) => {
    if (isBelow(call.path, PRINCIPALS)) return principals(call, segments(call.path, PRINCIPALS));
    if (isBelow(call.path, KEYS)) return keys(call, segments(call.path, KEYS), query);
    return policies(call, segments(call.path, POLICIES));
  };

  /**
   * One journal revision, refused (and nothing written) when it would take away the last active
   * key able to repair access — allowed `ballast:ManagePolicies` and `ballast:ManageCredentials`
   * on its own principal — from a state that had one: nobody can lock the installation out by
   * detaching, denying, deactivating or deleting.
   */
  async function mutate<T>(call: AdminCall, action: string, fn: (tx: MutationTx) => Promise<T>): Promise<T> {
    const { result } = await store.mutate({ ...call.meta, action }, async (tx) => {
      const before = await administered(tx);
      const r = await fn(tx);
      if (before && !(await administered(tx)))
        throw new BallastError(
          "DeleteConflict",
          "Refused: afterwards no active access key could manage principals, keys and policies " +
            "(ballast:ManagePolicies and ballast:ManageCredentials), and nobody could repair access.",
        );
      return r;
    });
    return result;
  }

  async function credentials(): Promise<Credential[]> {
    return (await store.list("credential")).map((c) => c.doc);
  }

  /** The principal stored under `name`, or one made from keys of before policies, or NoSuchEntity. */
  async function principalIn(tx: MutationTx, name: string): Promise<Principal> {
    const p = await tx.get("principal", name);
    if (p) return p;
    const legacy = (await tx.list("credential")).filter((c) => c.principal === name);
    if (legacy.length === 0) throw noSuchPrincipal(name);
    // Stored now, with nothing attached: its keys keep their roles' policies.
    return { name, createdTime: now(), policies: [] };
  }

  async function principals(call: AdminCall, seg: string[]): Promise<Json> {
    const { method } = call;
    if (seg.length === 0 && method === "GET") {
      const all = await credentials();
      const stored = new Map((await store.list("principal")).map((p) => [p.doc.name, p.doc]));
      const names = [...new Set([...stored.keys(), ...all.map((c) => c.principal)])].sort();
      return { principals: names.map((n) => principalView(n, stored.get(n), all)) };
    }
    const name = seg[0];
    if (name === undefined) throw noRoute(call);
    if (seg.length === 1) {
      if (method === "GET") {
        const p = (await store.get("principal", name))?.doc;
        const all = await credentials();
        if (!p && !all.some((c) => c.principal === name)) throw noSuchPrincipal(name);
        return { principal: principalView(name, p, all) };
      }
      if (method === "PUT") return createPrincipal(call, validatePrincipalName(name));
      if (method === "DELETE") return deletePrincipal(call, name);
    }
    if (seg.length === 2 && seg[1] === "keys" && method === "POST") return createKey(call, name);
    if (seg.length === 3 && seg[1] === "policies") {
      const policy = seg[2] as string;
      if (method === "PUT") return attach(call, name, policy, true);
      if (method === "DELETE") return attach(call, name, policy, false);
    }
    throw noRoute(call);
  }

  async function createPrincipal(call: AdminCall, name: string): Promise<Json> {
    const body = call.body.length === 0 ? {} : jsonObject(call.body, '{"policies"?: ["PolicyName", …]}');
    const wanted = body.policies ?? [];
    if (!Array.isArray(wanted) || !wanted.every((p) => typeof p === "string"))
      throw new BallastError("ValidationError", "policies must be a list of policy names");
    const principal: Principal = { name, createdTime: now(), policies: [...new Set(wanted as string[])] };
    await mutate(call, "CreatePrincipal", async (tx) => {
      if (await tx.get("principal", name))
        throw new BallastError("EntityAlreadyExists", `User with name ${name} already exists.`);
      for (const p of principal.policies) await requirePolicy(tx, p);
      tx.put("principal", name, principal);
    });
    return { principal: principalView(name, principal, await credentials()) };
  }

  async function deletePrincipal(call: AdminCall, name: string): Promise<Json> {
    await mutate(call, "DeletePrincipal", async (tx) => {
      const keys = (await tx.list("credential")).filter((c) => c.principal === name);
      if (keys.length > 0)
        throw new BallastError(
          "DeleteConflict",
          `Cannot delete entity, must delete access keys first (${name} has ${keys.length}).`,
        );
      if (!(await tx.get("principal", name))) throw noSuchPrincipal(name);
      tx.delete("principal", name);
    });
    return { deleted: name };
  }

  async function createKey(call: AdminCall, name: string, role?: Credential["role"]): Promise<Json> {
    const credential: Credential = {
      accessKeyId: generateAccessKeyId(),
      secretAccessKey: generateSecretAccessKey(),
      principal: name,
      ...(role === undefined ? {} : { role }),
      status: "Active",
      createdTime: now(),
    };
    await mutate(call, "CreateAccessKey", async (tx) => {
      const p = await principalIn(tx, name);
      if (!(await tx.get("principal", name))) tx.put("principal", name, p);
      tx.put("credential", credential.accessKeyId, credential);
    });
    return { accessKey: { ...keyView(credential), secretAccessKey: credential.secretAccessKey } };
  }

  async function attach(call: AdminCall, name: string, policy: string, on: boolean): Promise<Json> {
    const result = await mutate(call, on ? "AttachPolicy" : "DetachPolicy", async (tx) => {
      const p = await principalIn(tx, name);
      let policies: string[];
      if (on) {
        await requirePolicy(tx, policy);
        policies = p.policies.includes(policy) ? [...p.policies] : [...p.policies, policy];
      } else {
        if (!p.policies.includes(policy))
          throw new BallastError("NoSuchEntity", `Policy ${policy} was not found attached to ${name}.`);
        policies = p.policies.filter((x) => x !== policy);
      }
      const next: Principal = { ...p, policies };
      tx.put("principal", name, next);
      return next;
    });
    return { principal: principalView(name, result, await credentials()) };
  }

  async function keys(call: AdminCall, seg: string[], query: URLSearchParams): Promise<Json> {
    const { method } = call;
    if (seg.length === 0 && method === "GET") {
      const who = query.get("principal");
      const all = await credentials();
      return {
        accessKeys: all.filter((c) => who === null || c.principal === who).map(keyView),
      };
    }
    const id = seg[0];
    if (id === undefined) throw noRoute(call);
    if (seg.length === 1 && method === "DELETE") {
      await mutate(call, "DeleteAccessKey", async (tx) => {
        await requireKey(tx, id);
        tx.delete("credential", id);
      });
      return { deleted: id };
    }
    if (seg.length === 2 && method === "POST") {
      const verb = seg[1];
      if (verb === "deactivate" || verb === "activate") {
        const status = verb === "activate" ? "Active" : "Inactive";
        const result = await mutate(call, "UpdateAccessKey", async (tx) => {
          const next: Credential = { ...(await requireKey(tx, id)), status };
          tx.put("credential", id, next);
          return next;
        });
        return { accessKey: keyView(result) };
      }
      if (verb === "rotate") {
        // A new key for the same principal (and the same legacy role, so it may do what the old
        // one could); the old one is deactivated, to be deleted once nothing uses it.
        const fresh: Credential = {
          accessKeyId: generateAccessKeyId(),
          secretAccessKey: generateSecretAccessKey(),
          principal: "",
          status: "Active",
          createdTime: now(),
        };
        const result = await mutate(call, "RotateAccessKey", async (tx) => {
          const old = await requireKey(tx, id);
          const next: Credential = {
            ...fresh,
            principal: old.principal,
            ...(old.role === undefined ? {} : { role: old.role }),
          };
          tx.put("credential", next.accessKeyId, next);
          tx.put("credential", id, { ...old, status: "Inactive" });
          return next;
        });
        return {
          accessKey: { ...keyView(result), secretAccessKey: result.secretAccessKey },
          deactivated: id,
        };
      }
    }
    throw noRoute(call);
  }

  async function policies(call: AdminCall, seg: string[]): Promise<Json> {
    const { method } = call;
    if (seg.length === 0 && method === "GET") {
      const attached = new Map<string, number>();
      for (const p of await store.list("principal"))
        for (const n of p.doc.policies) attached.set(n, (attached.get(n) ?? 0) + 1);
      const managed = [...MANAGED_POLICIES.values()].map((m) => ({
        name: m.name,
        arn: policyArn(m.name),
        type: "managed",
        description: m.description,
        attachments: attached.get(m.name) ?? 0,
      }));
      const customer = (await store.list("accessPolicy")).map(({ doc }) => ({
        name: doc.name,
        arn: policyArn(doc.name),
        type: "customer",
        ...(doc.description === undefined ? {} : { description: doc.description }),
        attachments: attached.get(doc.name) ?? 0,
      }));
      return { policies: [...managed, ...customer] };
    }
    const name = seg[0];
    if (name === undefined || seg.length !== 1) throw noRoute(call);
    if (method === "GET") {
      const managed = MANAGED_POLICIES.get(name);
      if (managed)
        return {
          policy: {
            name,
            arn: policyArn(name),
            type: "managed",
            description: managed.description,
            document: policyJson(managed.document),
          },
        };
      const stored = (await store.get("accessPolicy", name))?.doc;
      if (!stored) throw noSuchPolicy(name);
      return { policy: customerView(stored) };
    }
    if (method === "PUT") return putPolicy(call, validatePolicyName(name));
    if (method === "DELETE") {
      if (isManagedPolicy(name))
        throw new BallastError("DeleteConflict", `${name} is a managed policy: it cannot be deleted.`);
      await mutate(call, "DeletePolicy", async (tx) => {
        if (!(await tx.get("accessPolicy", name))) throw noSuchPolicy(name);
        const users = (await tx.list("principal")).filter((p) => p.policies.includes(name));
        if (users.length > 0)
          throw new BallastError(
            "DeleteConflict",
            `Cannot delete a policy attached to entities: ${name} is attached to ${users.map((u) => u.name).join(", ")}.`,
          );
        tx.delete("accessPolicy", name);
      });
      return { deleted: name };
    }
    throw noRoute(call);
  }

  async function putPolicy(call: AdminCall, name: string): Promise<Json> {
    if (isManagedPolicy(name))
      throw new BallastError("EntityAlreadyExists", `${name} is a managed policy: it cannot be changed.`);
    const body = jsonObject(call.body, '{"document": {…policy document…}, "description"?: "…"}');
    if (body.document === undefined) throw new BallastError("ValidationError", "document is required");
    const document = typeof body.document === "string" ? body.document : JSON.stringify(body.document);
    parsePolicy(document);
    const description = body.description;
    if (description !== undefined && (typeof description !== "string" || description.length > 1000))
      throw new BallastError("ValidationError", "description must be a string of at most 1000 characters");
    const time = now();
    const result = await mutate(call, "PutPolicy", async (tx) => {
      const old = await tx.get("accessPolicy", name);
      const policy: AccessPolicy = {
        name,
        document,
        ...(description === undefined ? {} : { description }),
        createdTime: old?.createdTime ?? time,
        updatedTime: old !== undefined && old.document === document ? old.updatedTime : time,
      };
      tx.put("accessPolicy", name, policy);
      return policy;
    });
    return { policy: customerView(result) };
  }
}
