/**
 * The channel agents use to fetch configuration and report status: a small HTTP server (HTTPS
 * when given TLS material), apart from the public API. An agent authenticates with its own key
 * (`agent.<name>.<secret>`, `ballast agents add`), which also fixes its name and zone, or with
 * the shared agent token of a one-host `ballast up` (its name then comes from `agent=`).
 *
 *   GET  /agent/v1/config?zone=Z&have=N&wait=S[&agent=ID][&delta=1]
 *                                              → 200 AgentConfig, or 204 after S seconds if
 *                                                 the journal has not moved past N; with
 *                                                 delta=1, a delta document from N when the
 *                                                 journal still holds every version since N
 *   POST /agent/v1/status                        → 204, or 200 StatusAck (Accept: application/json);
 *                                                 body: AgentStatus, full or partial
 *                                                 (status-intake.ts)
 *   GET  /metrics                                → Prometheus text (no token: numbers only)
 *
 * Long-polling keeps agents a commit away from every change without a push connection to keep
 * alive; an agent that cannot reach this server keeps serving its last-known-good config.
 */
import { timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createTlsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { parseAgentBearer } from "../model/agent-keys.js";
import { type AgentConfig, type AgentStatus, DELTA_QUERY } from "../model/agent-protocol.js";
import type { Store } from "../store/store.js";
import type { TrafficHistory } from "../store/traffic-history.js";
import { agentSecretMatches } from "../util/agent-secret.js";
import type { ServerTls } from "../util/control-tls.js";
import type { Logger } from "../util/logger.js";
import { EXPOSITION_CONTENT_TYPE, type MetricFamilies } from "../util/prometheus.js";
import { parseStatus, yieldToOthers } from "./agent-status.js";
import { compileFor, statedLoadBalancers } from "./compile.js";
import { ChangeGuard } from "./guard.js";
import { renderMetrics } from "./metrics.js";
import { ReferenceIndex } from "./references.js";
import type { StateMonitor } from "./state-monitor.js";
import { StatusIntake } from "./status-intake.js";

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
  readonly counters?: readonly MetricFamilies[];
  /** Where the traffic figures of status reports go (the admin API's stats read them). */
  readonly traffic?: TrafficHistory;
  /** Serve HTTPS with this certificate (agents on other hosts); absent: plain HTTP. */
  readonly tls?: ServerTls;
  /**
   * Placement runs (controller/fleet.ts): each agent that names itself gets only the load balancers
   * placed on it. Without it, every agent of a zone gets all of the zone's.
   */
  readonly placement?: boolean;
  /**
   * Answer agents that ask for delta documents with one (default true). False: every answer is a
   * full document, as from a control plane of the version before deltas.
   */
  readonly deltas?: boolean;
  /**
   * Accept partial status reports (default true). False: every report is taken whole and no
   * acknowledgement names a base, as from a control plane of the version before partial reports.
   */
  readonly partialStatus?: boolean;
  /**
   * How often the journal head is read for commits made by another process on the same store
   * (default 1000 ms). This process's own commits, and a replica's notifications, wake waiting
   * agents at once without it.
   */
  readonly headPollMs?: number;
}

/** Who is calling: an agent with its own key (name and zone fixed), or a holder of the shared token. */
type Caller =
  | { readonly kind: "agent"; readonly name: string; readonly zone: string }
  | { readonly kind: "shared" };

const MAX_WAIT_SECONDS = 30;
const MAX_STATUS_BYTES = 4 << 20;

export class AgentChannel {
  readonly guard: ChangeGuard;
  readonly #opts: AgentChannelOptions;
  readonly #server: Server;
  readonly #waiters = new Set<() => void>();
  readonly #unsubscribe: () => void;
  readonly #references: ReferenceIndex;
  readonly #intake: StatusIntake;
  #headPoll: NodeJS.Timeout | undefined;
  #lastHead = 0;
  readonly #refusals = new Map<"unauthorized" | "revoked", number>();
  /** Documents sent to agents, by kind: whether agents get deltas is one number away. */
  readonly #sent = { delta: 0, full: 0 };
  #refusalsSinceLog = 0;
  #lastRefusalLog = 0;

  constructor(opts: AgentChannelOptions) {
    this.#opts = opts;
    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      this.#handle(req, res).catch((e: unknown) => {
        opts.logger.error("agent channel request failed", { err: e, url: req.url });
        if (!res.headersSent) res.writeHead(500).end();
        else res.destroy();
      });
    };
    this.#server =
      opts.tls === undefined
        ? createServer(handler)
        : createTlsServer({ cert: opts.tls.cert, key: opts.tls.key, minVersion: "TLSv1.2" }, handler);
    this.#server.keepAliveTimeout = (MAX_WAIT_SECONDS + 5) * 1000;
    this.guard = opts.guard ?? new ChangeGuard({ store: opts.store, logger: opts.logger });
    this.#references = new ReferenceIndex(opts.store);
    this.#intake = new StatusIntake({
      store: opts.store,
      ...(opts.traffic === undefined ? {} : { traffic: opts.traffic }),
      ...(opts.partialStatus === undefined ? {} : { partial: opts.partialStatus }),
    });
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
    }, this.#opts.headPollMs ?? 1000);
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
              alarms: monitor.last?.alarms ?? [],
              readOnly: monitor.readOnly() !== undefined,
            },
        Date.now(),
        this.#metricFamilies(),
      );
      res.writeHead(200, { "content-type": EXPOSITION_CONTENT_TYPE }).end(text);
      return;
    }
    const caller = await this.#caller(req);
    if (typeof caller === "string") {
      this.#refused(caller, req);
      const status = caller === "revoked" ? 403 : 401;
      const message = caller === "revoked" ? "this agent's key was revoked" : "unauthorized";
      res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify({ error: message }));
      return;
    }
    const url = new URL(req.url ?? "/", "http://agent-channel");
    if (req.method === "GET" && url.pathname === "/agent/v1/config")
      return this.#config(url, caller, req, res);
    if (req.method === "POST" && url.pathname === "/agent/v1/status") return this.#status(caller, req, res);
    res.writeHead(404, { "content-type": "application/json" }).end('{"error":"not found"}');
  }

  /** Refusals are noise, not failures: counted, and logged at most once per 10 s (info). */
  #refused(reason: "unauthorized" | "revoked", req: IncomingMessage): void {
    this.#refusals.set(reason, (this.#refusals.get(reason) ?? 0) + 1);
    this.#refusalsSinceLog++;
    const now = Date.now();
    if (now - this.#lastRefusalLog < 10_000) return;
    this.#opts.logger.info("agent channel refused requests", {
      reason,
      refused: this.#refusalsSinceLog,
      from: req.socket.remoteAddress,
      agent: parseAgentBearer((req.headers.authorization ?? "").slice(7))?.name,
    });
    this.#lastRefusalLog = now;
    this.#refusalsSinceLog = 0;
  }

  /** The composition root's families and this channel's refusals, each once. */
  #metricFamilies(): readonly MetricFamilies[] {
    const given = this.#opts.counters ?? [];
    return given.includes(this.refusalFamilies) ? given : [...given, this.refusalFamilies];
  }

  /** The refusals, as a family the control plane's /metrics renders. */
  readonly refusalFamilies: MetricFamilies = {
    renderInto: (exp) => exp.raw(this.#refusalMetrics()),
  };

  #refusalMetrics(): string {
    const lines = [
      "# HELP ballast_agent_channel_refusals_total Agent-channel requests refused: unknown or wrong credentials, or a revoked agent key.",
      "# TYPE ballast_agent_channel_refusals_total counter",
    ];
    for (const reason of ["unauthorized", "revoked"] as const)
      lines.push(
        `ballast_agent_channel_refusals_total{reason="${reason}"} ${this.#refusals.get(reason) ?? 0}`,
      );
    lines.push(
      "# HELP ballast_agent_channel_documents_total Configuration documents sent to agents: delta (only what changed since the agent's revision) or full.",
      "# TYPE ballast_agent_channel_documents_total counter",
      `ballast_agent_channel_documents_total{kind="delta"} ${this.#sent.delta}`,
      `ballast_agent_channel_documents_total{kind="full"} ${this.#sent.full}`,
      ...this.#intake.metricLines(),
    );
    return `${lines.join("\n")}\n`;
  }

  /** The caller, or why it is refused: an unknown or wrong key, or a revoked one. */
  async #caller(req: IncomingMessage): Promise<Caller | "unauthorized" | "revoked"> {
    const header = req.headers.authorization ?? "";
    const token = header.startsWith("Bearer ") ? header.slice(7) : "";
    const own = parseAgentBearer(token);
    if (own !== undefined) {
      const key = (await this.#opts.store.get("agentKey", own.name))?.doc;
      if (key === undefined || !agentSecretMatches(own.secret, key.secretHash)) return "unauthorized";
      if (key.revokedTime !== undefined) return "revoked";
      return { kind: "agent", name: key.name, zone: key.zone };
    }
    const given = Buffer.from(token);
    const want = Buffer.from(this.#opts.token);
    return given.length === want.length && timingSafeEqual(given, want) ? { kind: "shared" } : "unauthorized";
  }

  async #config(url: URL, caller: Caller, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const zone = url.searchParams.get("zone") ?? "";
    if (!this.#opts.zones.includes(zone)) {
      res.writeHead(400, { "content-type": "application/json" }).end('{"error":"unknown zone"}');
      return;
    }
    if (caller.kind === "agent" && caller.zone !== zone) {
      res
        .writeHead(403, { "content-type": "application/json" })
        .end(JSON.stringify({ error: `this agent's key is for zone ${caller.zone}, not ${zone}` }));
      return;
    }
    const named = caller.kind === "agent" ? caller.name : (url.searchParams.get("agent") ?? undefined);
    const agent = this.#opts.placement === true ? named : undefined;
    const have = Number(url.searchParams.get("have") ?? "0");
    const delta = this.#opts.deltas !== false && url.searchParams.get(DELTA_QUERY) === "1";
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
      const sendable = await this.#compileChecked(zone, have, agent, delta);
      if (sendable !== null) {
        this.#sent[sendable.delta === undefined ? "full" : "delta"]++;
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

  /** The document for this agent, through the guard; null when the guard holds it. */
  async #compileChecked(
    zone: string,
    have: number,
    agent: string | undefined,
    delta: boolean,
  ): Promise<AgentConfig | null> {
    const compile = (asDelta: boolean) =>
      compileFor(this.#opts.store, zone, have, {
        ...(agent === undefined ? {} : { agent }),
        delta: asDelta,
        references: this.#references,
      });
    const stated = () => statedLoadBalancers(this.#opts.store, zone, agent);
    const doc = await compile(delta);
    const sendable = await this.guard.check(doc, have, stated);
    // Removals an operator discarded leave load balancers the journal no longer has: a full
    // document lets the agent see them as unexplained, where a delta would say nothing of them.
    if (sendable?.delta !== undefined && sendable.removals.length < doc.removals.length)
      return this.guard.check(await compile(false), have, stated);
    return sendable;
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

  async #status(caller: Caller, req: IncomingMessage, res: ServerResponse): Promise<void> {
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
    if (caller.kind === "agent" && (status.agentId !== caller.name || status.zone !== caller.zone)) {
      res.writeHead(403, { "content-type": "application/json" }).end(
        JSON.stringify({
          error: `this key is agent ${caller.name} in ${caller.zone}, not ${status.agentId} in ${status.zone}`,
        }),
      );
      return;
    }
    // A status of thousands of nodes takes tens of milliseconds per step: between steps, a
    // configuration poll or an API call waiting on this process goes first (propagation).
    await yieldToOthers();
    const wantsAck = (req.headers.accept ?? "").includes("application/json");
    const ack = await this.#intake.receive(status, wantsAck, Date.now(), size);
    if (ack === undefined) {
      res.writeHead(204).end();
      return;
    }
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(ack));
  }

  async close(): Promise<void> {
    this.#unsubscribe();
    if (this.#headPoll) clearInterval(this.#headPoll);
    this.#wake();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
