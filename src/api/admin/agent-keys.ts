/**
 * Agents' own keys to the agent channel. The secret is made here, returned once in the answer (as
 * the credentials file the agent's host needs) and stored only as its SHA-256. Revoking is
 * explicit and kept in the journal: the agent's next request is refused, and it keeps serving its
 * last-known-good configuration (principle 2).
 *
 *   GET  /admin/v1/agent-keys                 → { keys: AgentKey view[] }
 *   POST /admin/v1/agent-keys/{name}          body { zone } → { key, credentials }
 *   POST /admin/v1/agent-keys/{name}/revoke   → { key }
 */
import { type AgentCredentials, type AgentKey, agentNameProblem } from "../../model/agent-keys.js";
import { BallastError } from "../../model/errors.js";
import type { Store } from "../../store/store.js";
import { hashAgentSecret, newAgentSecret } from "../../util/agent-secret.js";
import { ADMIN_PREFIX, type AdminCall, isBelow, type Json, jsonObject } from "./common.js";

const KEYS = `${ADMIN_PREFIX}/agent-keys`;

export function isAgentKeysPath(path: string): boolean {
  return isBelow(path, KEYS);
}

/** What the API shows of a key: never its hash. */
function view(k: AgentKey): Json {
  return {
    name: k.name,
    zone: k.zone,
    createdTime: k.createdTime,
    createdBy: k.createdBy,
    status: k.revokedTime === undefined ? "Active" : "Revoked",
    ...(k.revokedTime === undefined ? {} : { revokedTime: k.revokedTime, revokedBy: k.revokedBy }),
  };
}

export function createAgentKeyRoutes(opts: {
  readonly store: Store;
  readonly zones: readonly string[];
}): (call: AdminCall) => Promise<Json> {
  const { store } = opts;
  return async (call) => {
    const rest = call.path.slice(KEYS.length);
    if (call.method === "GET" && rest === "") {
      const keys = (await store.list("agentKey")).map((k) => view(k.doc));
      return { keys };
    }
    const m = /^\/([^/]+)(\/revoke)?$/.exec(rest);
    if (call.method === "POST" && m !== null) {
      const name = decodeURIComponent(m[1] ?? "");
      const problem = agentNameProblem(name);
      if (problem !== null) throw new BallastError("ValidationError", problem);
      return m[2] === undefined ? create(call, name) : revoke(call, name);
    }
    throw new BallastError("NotFound", `No route for ${call.method} ${call.path}`);
  };

  async function create(call: AdminCall, name: string): Promise<Json> {
    const body = jsonObject(call.body, '{"zone": "us-east-1a"}');
    const zone = body.zone;
    if (typeof zone !== "string" || !opts.zones.includes(zone))
      throw new BallastError(
        "ValidationError",
        `zone must be one of the zones this control plane serves (${opts.zones.join(", ")})`,
      );
    const secret = newAgentSecret();
    const key: AgentKey = {
      name,
      zone,
      secretHash: hashAgentSecret(secret),
      createdTime: new Date().toISOString(),
      createdBy: call.credential.principal,
    };
    await store.mutate({ ...call.meta, action: "CreateAgentKey" }, async (tx) => {
      if ((await tx.get("agentKey", name)) !== undefined)
        throw new BallastError(
          "EntityAlreadyExists",
          `Agent ${name} already has a key; revoke it and add the agent under a new name`,
        );
      tx.put("agentKey", name, key);
    });
    const credentials: AgentCredentials = { format: 1, name, zone, secret };
    return { key: view(key), credentials };
  }

  async function revoke(call: AdminCall, name: string): Promise<Json> {
    const { result } = await store.mutate({ ...call.meta, action: "RevokeAgentKey" }, async (tx) => {
      const key = await tx.get("agentKey", name);
      if (key === undefined) throw new BallastError("NoSuchEntity", `Agent ${name} has no key`);
      if (key.revokedTime !== undefined) return key;
      const revoked: AgentKey = {
        ...key,
        revokedTime: new Date().toISOString(),
        revokedBy: call.credential.principal,
      };
      tx.put("agentKey", name, revoked);
      return revoked;
    });
    return { key: view(result) };
  }
}
