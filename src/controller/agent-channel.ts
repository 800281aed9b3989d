/**
 * The channel agents use to fetch configuration and report status: a small HTTP server, apart
 * from the public API, authenticated with the shared agent token.
 *
 *   GET  /agent/v1/config?zone=Z&have=N&wait=S  → 200 AgentConfig, or 204 after S seconds if
 *                                                 the journal has not moved past N
 *   POST /agent/v1/status                        → 204; body: AgentStatus
 *   GET  /metrics                                → Prometheus text (no token: numbers only)
 *
 * Long-polling keeps agents a commit away from every change without a push connection to keep
 * alive; an agent that cannot reach this server keeps serving its last-known-good config.
 */
import { timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { AgentStatus, StatusAck } from "../model/agent-protocol.js";
import { type DnsRecord, normalizeName, servingAddressesByName } from "../model/dns-records.js";
import { regionOf, regionServedBy } from "../model/region.js";
import type { Store } from "../store/store.js";
import type { Logger } from "../util/logger.js";
import { compileAgentConfig } from "./compile.js";
import { ChangeGuard } from "./guard.js";
import { type MetricSource, renderMetrics } from "./metrics.js";
import type { StateMonitor } from "./state-monitor.js";

export interface AgentChannelOptions {
  readonly store: Store;
  readonly token: string;
  readonly zones: readonly string[];
  readonly logger: Logger;
  /** The blast-radius guard every document passes (default: one with ELB's default thresholds). */
  readonly guard?: ChangeGuard;
  /** The state monitor whose verdict the metrics report. */
  readonly monitor?: StateMonitor;
  /** Counters of other components served with the metrics (composition root: the API's). */
  readonly counters?: readonly MetricSource[];
}

const MAX_WAIT_SECONDS = 30;
const MAX_STATUS_BYTES = 4 << 20;

export class AgentChannel {
  readonly guard: ChangeGuard;
  readonly #opts: AgentChannelOptions;
  readonly #server: Server;
  readonly #waiters = new Set<() => void>();
  readonly #unsubscribe: () => void;
  #headPoll: NodeJS.Timeout | undefined;
  #lastHead = 0;

  constructor(opts: AgentChannelOptions) {
    this.#opts = opts;
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((e: unknown) => {
        opts.logger.error("agent channel request failed", { err: e, url: req.url });
        if (!res.headersSent) res.writeHead(500).end();
        else res.destroy();
      });
    });
    this.#server.keepAliveTimeout = (MAX_WAIT_SECONDS + 5) * 1000;
    this.guard = opts.guard ?? new ChangeGuard({ store: opts.store, logger: opts.logger });
    const commits = opts.store.onCommit(() => this.#wake());
    const decisions = this.guard.onDecision(() => this.#wake());
    this.#unsubscribe = () => {
      commits();
      decisions();
    };
  }

  async listen(port: number, host = "127.0.0.1"): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(port, host, () => resolve());
    });
    // Another control-plane process may write the same store: notice its commits too.
    this.#lastHead = await this.#opts.store.head();
    this.#headPoll = setInterval(() => {
      this.#opts.store.head().then(
        (h) => {
          if (h !== this.#lastHead) {
            this.#lastHead = h;
            this.#wake();
          }
        },
        (e: unknown) => this.#opts.logger.warn("head poll failed", { err: e }),
      );
    }, 1000);
    this.#headPoll.unref();
    return (this.#server.address() as AddressInfo).port;
  }

  #wake(): void {
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const w of waiters) w();
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method === "GET" && req.url === "/metrics") {
      const monitor = this.#opts.monitor;
      const text = await renderMetrics(
        this.#opts.store,
        monitor === undefined
          ? undefined
          : {
              stateVerified: monitor.verified,
              stateRepairs: monitor.repairs,
              guardHolds: this.guard.holds().map((h) => ({
                zone: h.zone,
                removedLoadBalancers: h.verdict.removedLoadBalancers,
              })),
            },
        Date.now(),
        this.#opts.counters,
      );
      res.writeHead(200, { "content-type": "text/plain; version=0.0.4" }).end(text);
      return;
    }
    if (!this.#authorized(req)) {
      res.writeHead(401, { "content-type": "application/json" }).end('{"error":"unauthorized"}');
      return;
    }
    const url = new URL(req.url ?? "/", "http://agent-channel");
    if (req.method === "GET" && url.pathname === "/agent/v1/config") return this.#config(url, req, res);
    if (req.method === "POST" && url.pathname === "/agent/v1/status") return this.#status(req, res);
    res.writeHead(404, { "content-type": "application/json" }).end('{"error":"not found"}');
  }

  #authorized(req: IncomingMessage): boolean {
    const header = req.headers.authorization ?? "";
    const given = Buffer.from(header.startsWith("Bearer ") ? header.slice(7) : "");
    const want = Buffer.from(this.#opts.token);
    return given.length === want.length && timingSafeEqual(given, want);
  }

  async #config(url: URL, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const zone = url.searchParams.get("zone") ?? "";
    if (!this.#opts.zones.includes(zone)) {
      res.writeHead(400, { "content-type": "application/json" }).end('{"error":"unknown zone"}');
      return;
    }
    const have = Number(url.searchParams.get("have") ?? "0");
    const wait = Math.min(Number(url.searchParams.get("wait") ?? "0") || 0, MAX_WAIT_SECONDS);
    if (!Number.isInteger(have) || have < 0) {
      res.writeHead(400, { "content-type": "application/json" }).end('{"error":"bad have"}');
      return;
    }
    // A wake-up is a hint, not a change: the head poll also fires for commits onCommit already
    // reported, so the head is read again and the wait goes on, to its deadline, while it is `have`.
    const deadline = performance.now() + wait * 1000;
    while (wait > 0 && (await this.#opts.store.head()) === have) {
      const left = deadline - performance.now();
      if (left <= 0 || !(await this.#waitForCommit(req, left))) {
        if (!res.destroyed) res.writeHead(204).end();
        return;
      }
    }
    for (;;) {
      const doc = await compileAgentConfig(this.#opts.store, zone, have);
      const sendable = await this.guard.check(doc, have);
      if (sendable !== null) {
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(sendable));
        return;
      }
      // Held: the agent keeps what it runs. A commit or an operator's decision checks again.
      const left = deadline - performance.now();
      if (left <= 0 || !(await this.#waitForCommit(req, left))) {
        if (!res.destroyed) res.writeHead(204).end();
        return;
      }
    }
  }

  #waitForCommit(req: IncomingMessage, ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const done = (moved: boolean): void => {
        clearTimeout(timer);
        this.#waiters.delete(wake);
        req.off("close", gone);
        resolve(moved);
      };
      const wake = (): void => done(true);
      const gone = (): void => done(false);
      const timer = setTimeout(() => done(false), ms);
      this.#waiters.add(wake);
      req.once("close", gone);
    });
  }

  async #status(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_STATUS_BYTES) {
        // The rest of the body is not read: the connection cannot carry another request.
        res.writeHead(413, { connection: "close" }).end();
        return;
      }
      chunks.push(chunk as Buffer);
    }
    let status: AgentStatus;
    try {
      status = parseStatus(JSON.parse(Buffer.concat(chunks).toString("utf8")));
    } catch (e) {
      res.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify({ error: String(e) }));
      return;
    }
    await this.#opts.store.putAgentStatus(status);
    if (!(req.headers.accept ?? "").includes("application/json")) {
      res.writeHead(204).end();
      return;
    }
    const ack: StatusAck = { dns: await this.#dnsRecords(status) };
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(ack));
  }

  /** What the reporting agent publishes in DNS: each load balancer it serves, with every node that can serve it. */
  async #dnsRecords(status: AgentStatus): Promise<DnsRecord[]> {
    const names = new Set(status.nodes.map((n) => n.loadBalancer));
    if (names.size === 0) return [];
    const region = regionServedBy(status.zone);
    const statuses = await this.#opts.store.agentStatuses();
    const addresses = servingAddressesByName(region, statuses, Date.now(), undefined, names);
    const out: DnsRecord[] = [];
    for (const { doc } of await this.#opts.store.list("loadBalancer")) {
      if (!names.has(doc.name) || regionOf(doc) !== region) continue;
      out.push({ name: normalizeName(doc.dnsName), addresses: addresses.get(doc.name) ?? [] });
    }
    return out;
  }

  async close(): Promise<void> {
    this.#unsubscribe();
    if (this.#headPoll) clearInterval(this.#headPoll);
    this.#wake();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

function parseStatus(v: unknown): AgentStatus {
  if (typeof v !== "object" || v === null) throw new Error("status must be an object");
  const s = v as Record<string, unknown>;
  if (typeof s.agentId !== "string" || s.agentId === "") throw new Error("agentId required");
  if (typeof s.zone !== "string") throw new Error("zone required");
  // An agent one version behind reports `configVersion`.
  const configRevision = s.configRevision ?? s.configVersion;
  if (typeof configRevision !== "number") throw new Error("configRevision required");
  if (!Array.isArray(s.nodes) || !Array.isArray(s.health) || !Array.isArray(s.unexplained)) {
    throw new Error("nodes, health and unexplained must be arrays");
  }
  return { ...(s as unknown as AgentStatus), configRevision, time: new Date().toISOString() };
}
