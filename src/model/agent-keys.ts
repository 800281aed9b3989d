/**
 * Agents' own keys to the agent channel: one per agent, made by an operator (`ballast agents add`),
 * revoked explicitly (`ballast agents revoke`). The store keeps only a hash of the secret: the
 * secret itself exists in the credentials file the operator hands to the agent's host.
 */

export interface AgentKey {
  /** The agent's name: its id in placement, status and logs. */
  readonly name: string;
  /** The one zone the agent may serve. */
  readonly zone: string;
  /** SHA-256 of the secret, hex. A 256-bit random secret needs no slow hash. */
  readonly secretHash: string;
  readonly createdTime: string;
  readonly createdBy: string;
  /** Set once revoked: the next request with the key is refused. */
  readonly revokedTime?: string;
  readonly revokedBy?: string;
}

/** What `ballast agents add` writes for the agent's host (mode 0600). */
export interface AgentCredentials {
  readonly format: 1;
  readonly name: string;
  readonly zone: string;
  readonly secret: string;
  /** The control plane's agent-channel URLs, when known to the caller. */
  readonly control?: readonly string[];
}

const NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** Why `name` cannot name an agent, or null. */
export function agentNameProblem(name: string): string | null {
  return NAME.test(name)
    ? null
    : "An agent name is 1 to 63 characters: lowercase letters, digits and hyphens, starting with a letter or digit";
}

/** The bearer token an agent sends: `agent.<name>.<secret>`. */
export function agentBearer(name: string, secret: string): string {
  return `agent.${name}.${secret}`;
}

/** Splits a bearer token of the form `agent.<name>.<secret>`; undefined for anything else. */
export function parseAgentBearer(token: string): { name: string; secret: string } | undefined {
  const m = /^agent\.([a-z0-9][a-z0-9-]{0,62})\.([A-Za-z0-9_-]{20,200})$/.exec(token);
  return m === null ? undefined : { name: m[1] as string, secret: m[2] as string };
}

/** Reads a credentials file's JSON; throws one readable sentence when it is not one. */
export function parseAgentCredentials(v: unknown): AgentCredentials {
  const c = (typeof v === "object" && v !== null ? v : {}) as Record<string, unknown>;
  if (c.format !== 1) throw new Error("not a Ballast agent credentials file (format 1)");
  if (typeof c.name !== "string" || agentNameProblem(c.name) !== null)
    throw new Error("agent credentials file has no valid name");
  if (typeof c.zone !== "string" || c.zone === "") throw new Error("agent credentials file has no zone");
  if (typeof c.secret !== "string" || !/^[A-Za-z0-9_-]{20,200}$/.test(c.secret))
    throw new Error("agent credentials file has no valid secret");
  const control = Array.isArray(c.control) ? c.control.filter((u): u is string => typeof u === "string") : [];
  return {
    format: 1,
    name: c.name,
    zone: c.zone,
    secret: c.secret,
    ...(control.length > 0 ? { control } : {}),
  };
}
