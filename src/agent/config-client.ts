/**
 * The agent's side of the agent channel: long-polls for configuration and posts status. Every
 * failure is reported to the caller and retried with backoff; none reaches the data plane.
 *
 * An agent may be given several control-plane endpoints (replicas on one PostgreSQL): it uses
 * one until a call to it fails, then moves to the next, round the list.
 */
import { isIPv4 } from "node:net";
import {
  type AgentConfig,
  type AgentConfigV1,
  type AgentStatus,
  DELTA_QUERY,
  type StatusAck,
} from "../model/agent-protocol.js";
import { type DnsRecord, normalizeName } from "../model/dns-records.js";
import { NODE_SPEC_FORMAT, nodeSpecProblem } from "../model/node-spec.js";
import { resolveNode } from "../model/resolve-node.js";
import { channelRequest } from "./channel-request.js";

export interface ConfigClientOptions {
  /** One or more control-plane endpoints, in the order to try them. */
  readonly controlUrls: readonly string[];
  readonly token: string;
  readonly zone: string;
  /** Who this agent is: placement gives each agent its own document. */
  readonly agentId?: string;
  /** PEM of the CA that signed the control plane's certificate (https endpoints). */
  readonly ca?: string;
}

/** The control plane answered with a document this agent refuses whole (a NACK). */
export class ConfigRejected extends Error {
  /** The document's revision, when it says one. */
  readonly revision: number;

  constructor(message: string, revision: number) {
    super(message);
    this.revision = revision;
  }
}

export type PollResult =
  | { readonly kind: "config"; readonly config: AgentConfig }
  | { readonly kind: "unchanged" };

export class ConfigClient {
  readonly #opts: ConfigClientOptions;
  #current = 0;

  constructor(opts: ConfigClientOptions) {
    if (opts.controlUrls.length === 0) throw new Error("an agent needs at least one control-plane endpoint");
    this.#opts = opts;
  }

  /** The endpoint in use now. */
  get endpoint(): string {
    return this.#opts.controlUrls[this.#current] as string;
  }

  /** Runs `call` against the endpoint in use; a failure to reach it moves to the next one. */
  async #on<T>(call: (base: string) => Promise<T>): Promise<T> {
    const base = this.endpoint;
    try {
      return await call(base);
    } catch (e) {
      if (!(e instanceof ConfigRejected) && this.endpoint === base)
        this.#current = (this.#current + 1) % this.#opts.controlUrls.length;
      throw e;
    }
  }

  /**
   * Waits up to `waitSeconds` for a document newer than `have`. With `delta`, says this agent
   * understands delta documents (a control plane of an earlier version ignores it and answers a
   * full document, which is applied as ever).
   */
  poll(have: number, waitSeconds: number, signal: AbortSignal, delta = false): Promise<PollResult> {
    return this.#on((base) => this.#poll(base, have, waitSeconds, signal, delta));
  }

  async #poll(
    base: string,
    have: number,
    waitSeconds: number,
    signal: AbortSignal,
    delta: boolean,
  ): Promise<PollResult> {
    const url = new URL("/agent/v1/config", base);
    url.searchParams.set("zone", this.#opts.zone);
    url.searchParams.set("have", String(have));
    url.searchParams.set("wait", String(waitSeconds));
    if (this.#opts.agentId !== undefined) url.searchParams.set("agent", this.#opts.agentId);
    if (delta) url.searchParams.set(DELTA_QUERY, "1");
    const res = await channelRequest(url, { method: "GET", headers: this.#headers(), signal, ...this.#ca() });
    if (res.status === 204) return { kind: "unchanged" };
    if (res.status !== 200) throw new Error(`config poll answered ${res.status}: ${res.body}`);
    const body: unknown = parseJson(res.body);
    try {
      return { kind: "config", config: parseConfig(body, this.#opts.zone) };
    } catch (e) {
      const r = typeof body === "object" && body !== null ? (body as Record<string, unknown>) : {};
      const revision =
        typeof r.revision === "number" ? r.revision : typeof r.version === "number" ? r.version : 0;
      throw new ConfigRejected(e instanceof Error ? e.message : String(e), revision);
    }
  }

  /**
   * Posts a status, full or partial (agent/status-reports.ts); returns what the control plane
   * publishes back (undefined from one that answers 204).
   */
  report(status: AgentStatus, signal: AbortSignal): Promise<StatusAck | undefined> {
    return this.#on((base) => this.#report(base, status, signal));
  }

  async #report(base: string, status: AgentStatus, signal: AbortSignal): Promise<StatusAck | undefined> {
    const res = await channelRequest(new URL("/agent/v1/status", base), {
      method: "POST",
      headers: { ...this.#headers(), "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify(status),
      signal,
      ...this.#ca(),
    });
    if (res.status === 204) return undefined;
    if (res.status !== 200) throw new Error(`status report answered ${res.status}: ${res.body}`);
    return parseAck(parseJson(res.body));
  }

  #headers(): Record<string, string> {
    return { authorization: `Bearer ${this.#opts.token}` };
  }

  #ca(): { ca?: string } {
    return this.#opts.ca === undefined ? {} : { ca: this.#opts.ca };
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/**
 * A status acknowledgement, its records checked field by field (nothing else is kept). No `dns`
 * list: the agent keeps the records it has (the control plane saw its `dnsTag`).
 */
export function parseAck(v: unknown): StatusAck {
  const a = (typeof v === "object" && v !== null ? v : {}) as Record<string, unknown>;
  const extra = {
    ...(typeof a.dnsTag === "string" ? { dnsTag: a.dnsTag } : {}),
    ...(typeof a.accepted === "number" && Number.isSafeInteger(a.accepted) ? { accepted: a.accepted } : {}),
    ...(a.resend === "full" ? { resend: "full" as const } : {}),
  };
  const records = a.dns;
  if (records === undefined) return extra;
  if (!Array.isArray(records)) throw new Error("status acknowledgement has no dns list");
  const dns: DnsRecord[] = [];
  for (const r of records as unknown[]) {
    const rec = (typeof r === "object" && r !== null ? r : {}) as Record<string, unknown>;
    const addresses = rec.addresses;
    if (
      typeof rec.name !== "string" ||
      !Array.isArray(addresses) ||
      !addresses.every((a): a is string => typeof a === "string" && isIPv4(a))
    )
      throw new Error("status acknowledgement has a malformed dns record");
    dns.push({ name: normalizeName(rec.name), addresses });
  }
  return { dns, ...extra };
}

/**
 * Rejects documents that are not shaped as AgentConfig, or are meant for another zone. A document
 * of format 1 (a control plane one version behind) is resolved into format 2 here.
 */
export function parseConfig(v: unknown, zone: string): AgentConfig {
  if (typeof v !== "object" || v === null) throw new Error("config document is not an object");
  const c = v as Record<string, unknown>;
  const format = c.format ?? 1;
  if (format !== 1 && format !== NODE_SPEC_FORMAT)
    throw new Error(`config document has unknown format ${String(format)}`);
  const revision = format === 1 ? c.version : c.revision;
  if (typeof revision !== "number" || !Number.isInteger(revision) || revision < 0) {
    throw new Error("config document has no valid revision");
  }
  if (c.zone !== zone) throw new Error(`config document is for zone ${String(c.zone)}, not ${zone}`);
  if (!Array.isArray(c.loadBalancers) || !Array.isArray(c.removals)) {
    throw new Error("config document lacks loadBalancers or removals");
  }
  if (!(c.removals as unknown[]).every(isRemoval)) throw new Error("config document has a malformed removal");
  if (c.delta !== undefined) {
    const d = (typeof c.delta === "object" && c.delta !== null ? c.delta : {}) as Record<string, unknown>;
    if (format !== NODE_SPEC_FORMAT || !isRevisionNumber(d.from) || d.from > revision)
      throw new Error("config document has a malformed delta (from must be a revision at or before its own)");
  }
  if (format === NODE_SPEC_FORMAT) {
    for (const lb of c.loadBalancers as unknown[]) {
      const problem = nodeSpecProblem(lb);
      if (problem !== null) throw new Error(`config document: ${problem}`);
    }
    return v as AgentConfig;
  }
  for (const lb of c.loadBalancers as unknown[]) {
    const l = (typeof lb === "object" && lb !== null ? lb : {}) as Record<string, unknown>;
    if (
      typeof l.name !== "string" ||
      !Array.isArray(l.listeners) ||
      !Array.isArray(l.backends) ||
      typeof l.healthCheck !== "object" ||
      l.healthCheck === null
    ) {
      throw new Error("config document has a malformed load balancer");
    }
  }
  const old = v as AgentConfigV1;
  return {
    format: NODE_SPEC_FORMAT,
    revision,
    zone,
    loadBalancers: old.loadBalancers.map(resolveNode),
    removals: old.removals,
  };
}

function isRevisionNumber(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= 0;
}

function isRemoval(v: unknown): boolean {
  const r = (typeof v === "object" && v !== null ? v : {}) as Record<string, unknown>;
  return (
    (r.kind === "loadBalancer" || r.kind === "listener" || r.kind === "backend") &&
    typeof r.loadBalancer === "string" &&
    typeof r.key === "string" &&
    typeof r.revision === "number"
  );
}
