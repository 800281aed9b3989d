/**
 * Name resolution that survives the control plane: an agent answers DNS queries for the load
 * balancers it serves, from what the control plane last published to it (every node of each load
 * balancer, in every zone) and from its own nodes' health. The records are kept on the agent's
 * disk beside its last-known-good file, so a restarted agent answers before it reaches anyone.
 *
 * - A record stays while the agent serves its load balancer, whatever the control plane then
 *   publishes or forgets: a load balancer the store lost but the agents still serve keeps
 *   resolving (principle 3, applied to names).
 * - The agent's own node is left out of an answer while it has no InService back end to route
 *   to — it knows that better than the control plane's last word — unless that would leave
 *   nothing (fail open, as ELB does).
 * - A load balancer it serves and has no record for yet resolves to its own node.
 */
import { mkdir, open, readFile, rename } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { NodeReport, StatusAck } from "../model/agent-protocol.js";
import { type DnsRecord, nodeCanServe, normalizeName } from "../model/dns-records.js";

export const DNS_RECORDS_FILE = "dns-records.json";

/** What the agent runs, as the DNS side needs it. */
export interface ServedNodes {
  /** The load balancers this agent serves, by DNS name (normalised). */
  dnsNames(): ReadonlyMap<string, string>;
  nodes(): readonly NodeReport[];
}

export class AgentDns {
  readonly #dir: string;
  readonly #served: ServedNodes;
  /** By DNS name: the published addresses. */
  #records = new Map<string, readonly string[]>();
  #saved = "";

  constructor(dir: string, served: ServedNodes) {
    this.#dir = dir;
    this.#served = served;
  }

  /** Reads the records kept on disk (none in a new directory). */
  async load(): Promise<void> {
    let text: string;
    try {
      text = await readFile(join(this.#dir, DNS_RECORDS_FILE), "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
      throw e;
    }
    const doc = JSON.parse(text) as { records?: DnsRecord[] };
    for (const r of doc.records ?? []) this.#records.set(r.name, r.addresses);
    this.#saved = text;
  }

  /** Takes what the control plane published; keeps records of load balancers still served. */
  async accept(ack: StatusAck): Promise<void> {
    const served = this.#served.dnsNames();
    const next = new Map<string, readonly string[]>();
    for (const [name, addresses] of this.#records) if (served.has(name)) next.set(name, addresses);
    for (const r of ack.dns ?? [])
      if (served.has(r.name) && r.addresses.length > 0) next.set(r.name, r.addresses);
    this.#records = next;
    await this.#save();
  }

  /** The addresses to answer `name` with; undefined for a name this agent does not serve. */
  resolve(name: string): readonly string[] | undefined {
    const wanted = normalizeName(name);
    const lb = this.#served.dnsNames().get(wanted);
    if (lb === undefined) return undefined;
    const own = this.#served.nodes().find((n) => n.loadBalancer === lb);
    const published = this.#records.get(wanted) ?? [];
    if (own === undefined) return published;
    if (published.length === 0) return [own.address];
    if (nodeCanServe(own)) return published.includes(own.address) ? published : [...published, own.address];
    const others = published.filter((a) => a !== own.address);
    return others.length > 0 ? others : published;
  }

  async #save(): Promise<void> {
    const records = [...this.#records]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([name, addresses]) => ({ name, addresses }));
    const text = JSON.stringify({ records });
    if (text === this.#saved) return;
    const path = join(this.#dir, DNS_RECORDS_FILE);
    await mkdir(dirname(path), { recursive: true });
    const tmp = `${path}.${process.pid}.tmp`;
    const fh = await open(tmp, "w", 0o600);
    try {
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
    this.#saved = text;
  }
}
