/**
 * What the control plane does with an agent's status report: applies a partial report onto the
 * base it holds for the agent (else asks for a full one), records the traffic figures, stores the
 * whole merged status, and answers with the DNS records the agent publishes — only when they
 * differ from the ones the agent says it has.
 *
 * At 10,000 load balancers a full report is ~1.6 MB, and parsing, storing and answering it every
 * second held the control plane's one thread for over 100 ms, in front of any configuration poll
 * that came in meanwhile. Partial reports are small; the stored status is written when something
 * stored changed, else at most every STORE_REFRESH_MS (readers judge freshness by its `time`,
 * 30 s at the strictest); the DNS answer is computed again when the journal or a status this
 * process stored moved, else at most every DNS_REFRESH_MS (another replica's reports reach it then).
 */
import { createHash } from "node:crypto";
import type { AgentStatus, StatusAck } from "../model/agent-protocol.js";
import { type DnsRecord, normalizeName, servingAddressesByName } from "../model/dns-records.js";
import { followPlacement } from "../model/placement.js";
import { regionOf, regionServedBy } from "../model/region.js";
import { mergeStatus } from "../model/status-delta.js";
import { parseTrafficReports } from "../model/traffic.js";
import type { Store } from "../store/store.js";
import type { TrafficHistory } from "../store/traffic-history.js";
import { yieldToOthers } from "./agent-status.js";

export const STORE_REFRESH_MS = 5000;
export const DNS_REFRESH_MS = 5000;
/** An agent unheard of this long loses its base (its next partial report is answered "send full"). */
const FORGET_MS = 15 * 60 * 1000;

interface Base {
  readonly seq: number;
  /** The whole status as of `seq`, traffic included. */
  readonly status: AgentStatus;
  readonly atMs: number;
}

interface DnsAnswer {
  readonly key: string;
  readonly atMs: number;
  readonly records: readonly DnsRecord[];
  readonly tag: string;
}

export interface StatusIntakeOptions {
  readonly store: Store;
  readonly traffic?: TrafficHistory;
  /**
   * Accept partial reports (default true). False: behave as the version before them — a report
   * is taken whole, written every time, and answered with every DNS record and no `accepted`.
   */
  readonly partial?: boolean;
}

export class StatusIntake {
  readonly #opts: StatusIntakeOptions;
  readonly #bases = new Map<string, Base>();
  readonly #storedAtMs = new Map<string, number>();
  readonly #dns = new Map<string, DnsAnswer>();
  readonly #names = new WeakMap<
    AgentStatus["nodes"],
    { readonly key: string; readonly set: ReadonlySet<string> }
  >();
  /** Moves whenever this process stores a status that changed: DNS answers are computed again. */
  #generation = 0;
  /** Bytes of report bodies received, by kind. */
  readonly #bytes = { full: 0, partial: 0 };
  readonly #counts = { full: 0, partial: 0, resend: 0, written: 0, skipped: 0, dnsSent: 0, dnsKept: 0 };

  constructor(opts: StatusIntakeOptions) {
    this.#opts = opts;
  }

  /**
   * Takes one parsed report. With `ack`, returns the StatusAck to answer; a partial report with no
   * matching base is answered `resend: "full"` and changes nothing.
   */
  async receive(
    report: AgentStatus,
    ack: boolean,
    nowMs = Date.now(),
    bytes = 0,
  ): Promise<StatusAck | undefined> {
    this.#bytes[report.report?.base === undefined ? "full" : "partial"] += bytes;
    if (this.#opts.partial === false) return this.#receiveWhole(report, ack, nowMs);
    const status = report;
    const header = status.report;
    const prev = this.#bases.get(status.agentId);
    let whole: AgentStatus;
    let changed = true;
    if (header?.base !== undefined) {
      if (prev === undefined || prev.seq !== header.base || header.seq <= prev.seq) {
        this.#counts.resend++;
        return { resend: "full" };
      }
      const merged = mergeStatus(prev.status, status);
      whole = merged.status;
      changed = merged.changed;
      this.#counts.partial++;
    } else {
      const { report: _report, ...rest } = status;
      whole = rest;
      this.#counts.full++;
    }
    if (header !== undefined)
      this.#bases.set(status.agentId, { seq: header.seq, status: whole, atMs: nowMs });
    else this.#bases.delete(status.agentId);
    this.#forgetSilent(nowMs);
    await yieldToOthers();
    // Traffic figures are observations kept in memory, not state: they stay out of the store.
    const { traffic, ...stored } = whole;
    if (traffic !== undefined)
      this.#opts.traffic?.record(
        status.agentId,
        regionServedBy(status.zone),
        parseTrafficReports(traffic),
        nowMs,
      );
    const storedAt = this.#storedAtMs.get(status.agentId);
    if (changed || storedAt === undefined || nowMs - storedAt >= STORE_REFRESH_MS) {
      await yieldToOthers();
      await this.#opts.store.putAgentStatus(stored);
      this.#storedAtMs.set(status.agentId, nowMs);
      this.#counts.written++;
      if (changed) this.#generation++;
    } else this.#counts.skipped++;
    if (!ack) return undefined;
    await yieldToOthers();
    const answer = await this.#dnsAnswer(whole, nowMs);
    const accepted = header === undefined ? {} : { accepted: header.seq };
    if (header?.dnsTag !== undefined && header.dnsTag === answer.tag) {
      this.#counts.dnsKept++;
      return { dnsTag: answer.tag, ...accepted };
    }
    this.#counts.dnsSent++;
    return { dns: answer.records, dnsTag: answer.tag, ...accepted };
  }

  /** As the version before partial reports: whatever the report says of itself, it is taken whole. */
  async #receiveWhole(report: AgentStatus, ack: boolean, nowMs: number): Promise<StatusAck | undefined> {
    const { report: _header, traffic, ...stored } = report;
    this.#counts.full++;
    if (traffic !== undefined)
      this.#opts.traffic?.record(
        stored.agentId,
        regionServedBy(stored.zone),
        parseTrafficReports(traffic),
        nowMs,
      );
    await yieldToOthers();
    await this.#opts.store.putAgentStatus(stored);
    this.#counts.written++;
    if (!ack) return undefined;
    await yieldToOthers();
    return { dns: await this.#dnsRecords(stored, new Set(stored.nodes.map((n) => n.loadBalancer)), nowMs) };
  }

  #forgetSilent(nowMs: number): void {
    for (const [agent, base] of this.#bases) {
      if (nowMs - base.atMs < FORGET_MS) continue;
      this.#bases.delete(agent);
      this.#storedAtMs.delete(agent);
      this.#dns.delete(agent);
    }
  }

  async #dnsAnswer(status: AgentStatus, nowMs: number): Promise<DnsAnswer> {
    const names = this.#servedNames(status.nodes);
    const key = `${await this.#opts.store.head()}/${this.#generation}/${names.key}`;
    const cached = this.#dns.get(status.agentId);
    if (cached !== undefined && cached.key === key && nowMs - cached.atMs < DNS_REFRESH_MS) return cached;
    const records = await this.#dnsRecords(status, names.set, nowMs);
    const tag = createHash("sha256").update(JSON.stringify(records)).digest("base64url").slice(0, 22);
    const answer = { key, atMs: nowMs, records, tag };
    this.#dns.set(status.agentId, answer);
    return answer;
  }

  /** The load balancers a node list serves, worked out once per list (a merge that changed nothing keeps the list). */
  #servedNames(nodes: AgentStatus["nodes"]): { readonly key: string; readonly set: ReadonlySet<string> } {
    let names = this.#names.get(nodes);
    if (names === undefined) {
      const set = new Set(nodes.map((n) => n.loadBalancer));
      names = {
        key: createHash("sha256")
          .update([...set].sort().join(","))
          .digest("base64url"),
        set,
      };
      this.#names.set(nodes, names);
    }
    return names;
  }

  /** What the reporting agent publishes in DNS: each load balancer it serves, with every node that can serve it. */
  async #dnsRecords(status: AgentStatus, names: ReadonlySet<string>, nowMs: number): Promise<DnsRecord[]> {
    if (names.size === 0) return [];
    const region = regionServedBy(status.zone);
    const [all, placements] = await Promise.all([
      this.#opts.store.agentStatuses(),
      this.#opts.store.list("placement"),
    ]);
    const statuses = followPlacement(
      all,
      placements.map((p) => p.doc),
    );
    const addresses = servingAddressesByName(region, statuses, nowMs, undefined, names);
    const out: DnsRecord[] = [];
    for (const { doc } of await this.#opts.store.list("loadBalancer")) {
      if (!names.has(doc.name) || regionOf(doc) !== region) continue;
      out.push({ name: normalizeName(doc.dnsName), addresses: addresses.get(doc.name) ?? [] });
    }
    return out;
  }

  /** Prometheus text: reports by kind, requests for a full one, status writes and DNS answers. */
  metricLines(): string[] {
    const c = this.#counts;
    return [
      "# HELP ballast_agent_status_reports_total Agent status reports applied: full, or partial (only what changed since the base the control plane holds).",
      "# TYPE ballast_agent_status_reports_total counter",
      `ballast_agent_status_reports_total{kind="full"} ${c.full}`,
      `ballast_agent_status_reports_total{kind="partial"} ${c.partial}`,
      "# HELP ballast_agent_status_report_bytes_total Bytes of agent status report bodies received, by kind.",
      "# TYPE ballast_agent_status_report_bytes_total counter",
      `ballast_agent_status_report_bytes_total{kind="full"} ${this.#bytes.full}`,
      `ballast_agent_status_report_bytes_total{kind="partial"} ${this.#bytes.partial}`,
      "# HELP ballast_agent_status_resends_total Partial status reports refused for want of their base (answered: send a full one).",
      "# TYPE ballast_agent_status_resends_total counter",
      `ballast_agent_status_resends_total ${c.resend}`,
      "# HELP ballast_agent_status_writes_total Agent statuses written to the store, or left unwritten (nothing stored changed and the stored one is recent).",
      "# TYPE ballast_agent_status_writes_total counter",
      `ballast_agent_status_writes_total{outcome="written"} ${c.written}`,
      `ballast_agent_status_writes_total{outcome="skipped"} ${c.skipped}`,
      "# HELP ballast_agent_status_dns_answers_total DNS records in status acknowledgements: sent, or left out because the agent has them.",
      "# TYPE ballast_agent_status_dns_answers_total counter",
      `ballast_agent_status_dns_answers_total{outcome="sent"} ${c.dnsSent}`,
      `ballast_agent_status_dns_answers_total{outcome="kept"} ${c.dnsKept}`,
    ];
  }
}
