/**
 * A load-balancer node agent. It starts from its last-known-good configuration, then follows
 * the control plane: each accepted document is merged (explicit removals only), written to disk,
 * and only then applied to the proxy. Request handling never waits on the control plane.
 *
 * It asks for delta documents: a delta is merged onto the running set, appended to the
 * last-known-good log, and only the load balancers it changed are levelled in the proxy (the
 * others are passed as the very objects the proxy runs, which it skips).
 */
import { rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { DnsResponder } from "../dns/responder.js";
import type { AgentConfig, AgentStatus } from "../model/agent-protocol.js";
import { normalizeName } from "../model/dns-records.js";
import { agentRefusal } from "../model/guard.js";
import type { NodeSpec } from "../model/node-spec.js";
import { type NodeAssignment, ProxyRuntime } from "../proxy/runtime.js";
import { type ObservabilityServer, type Readiness, urlHost } from "../util/observability-server.js";
import { AddressPool } from "./address-pool.js";
import type { AgentOptions } from "./agent-options.js";
import { ConfigClient, ConfigRejected } from "./config-client.js";
import { AgentDns } from "./dns.js";
import { readLastKnownGood } from "./last-known-good.js";
import { LastKnownGoodWriter, type RunningSet } from "./lkg-writer.js";
import { mergeDelta, mergeFull } from "./merge.js";
import { startMetricsServer } from "./metrics-server.js";
import { StatusReporter } from "./status-reporter.js";

export type { AgentOptions } from "./agent-options.js";

const MAX_BACKOFF_MS = 5000;
/** How long a new worker waits for the one it replaces to let go of the DNS and metrics ports. */
const PORT_HANDOVER_MS = 15_000;

export class Agent {
  readonly #opts: AgentOptions;
  readonly #runtime: ProxyRuntime;
  readonly #client: ConfigClient;
  readonly #abort = new AbortController();
  #pool: AddressPool;
  #revision = 0;
  #running: ReadonlyMap<string, NodeSpec> = new Map();
  /** Ask for a full document next (after a refused one): a delta needs a base both sides agree on. */
  #wantFull = false;
  readonly #lkg: LastKnownGoodWriter;
  #unexplained: readonly string[] = [];
  #refused: { readonly revision: number; readonly reason: string } | undefined;
  #statusTimer: NodeJS.Timeout | undefined;
  readonly #reporter: StatusReporter;
  #loop: Promise<void> | undefined;
  #metricsServer: ObservabilityServer | undefined;
  /** True once a configuration (last-known-good or the control plane's) has been applied. */
  #applied = false;
  readonly #dns: AgentDns;
  #dnsResponder: DnsResponder | undefined;
  #dnsPort: number | undefined;

  constructor(opts: AgentOptions) {
    this.#opts = opts;
    this.#runtime = new ProxyRuntime({
      logger: opts.logger,
      zone: opts.zone,
      accessLogDir: join(opts.dataDir, "access-logs"),
      ...(opts.region === undefined ? {} : { region: opts.region }),
      ...(opts.connectionLimits === undefined ? {} : { connectionLimits: opts.connectionLimits }),
      ...(opts.sockets === undefined ? {} : { sockets: opts.sockets }),
    });
    this.#client = new ConfigClient({
      controlUrls: opts.controlUrls,
      token: opts.token,
      zone: opts.zone,
      agentId: opts.agentId,
      ...(opts.ca === undefined ? {} : { ca: opts.ca }),
    });
    this.#pool = new AddressPool(opts.pool, {}, this.#reserved());
    this.#lkg = new LastKnownGoodWriter(opts.dataDir, opts.zone);
    this.#dns = new AgentDns(opts.dataDir, {
      dnsNames: () => new Map([...this.#running.values()].map((lb) => [normalizeName(lb.dnsName), lb.name])),
      nodes: () => this.#runtime.nodes(),
    });
    this.#reporter = new StatusReporter({
      client: this.#client,
      status: () => this.status(),
      onAck: (ack) => this.#dns.accept(ack),
      signal: this.#abort.signal,
      logger: opts.logger,
      ...(opts.fullStatusEveryMs === undefined ? {} : { fullEveryMs: opts.fullStatusEveryMs }),
    });
  }

  #reserved(): string[] {
    return this.#opts.dns === undefined ? [] : [this.#opts.dns.host];
  }

  /** The port the agent's DNS responder listens on (UDP and TCP); undefined without one. */
  get dnsPort(): number | undefined {
    return this.#dnsPort;
  }

  /** The journal revision of the configuration this agent runs. */
  get revision(): number {
    return this.#revision;
  }

  /** The address of the metrics listener, once it listens. */
  get metricsAddress(): { readonly host: string; readonly port: number } | undefined {
    const m = this.#metricsServer;
    return m === undefined ? undefined : { host: m.host, port: m.port };
  }

  /** Ready: a configuration applied and every listener it runs bound. */
  readiness(): Readiness {
    const unbound = this.#runtime.unboundListeners();
    const detail = {
      zone: this.#opts.zone,
      configRevision: this.#revision,
      configApplied: this.#applied,
      loadBalancers: this.#running.size,
      ...(unbound.length === 0 ? {} : { unboundListeners: unbound.slice(0, 20) }),
    };
    return { ready: this.#applied && unbound.length === 0, detail };
  }

  /** Serves the last-known-good configuration at once, then follows the control plane. */
  async start(): Promise<void> {
    // First, so /readyz answers 503 while nothing is applied yet — except a fixed port under a
    // keeper, which the worker being replaced holds until it is told to drain (after this one
    // serves): that one binds after the last-known-good configuration, retrying while in use.
    if (!this.#metricsAfterServing()) await this.#startMetrics(0);
    try {
      await this.#serve();
    } catch (e) {
      await this.#metricsServer?.close();
      throw e;
    }
  }

  async #serve(): Promise<void> {
    const lkg = await readLastKnownGood(this.#opts.dataDir);
    if (lkg) {
      if (lkg.zone !== this.#opts.zone) {
        throw new Error(
          `last-known-good in ${this.#opts.dataDir} is for zone ${lkg.zone}, not ${this.#opts.zone}`,
        );
      }
      this.#pool = new AddressPool(this.#opts.pool, lkg.addresses, this.#reserved());
      this.#revision = lkg.revision;
      this.#running = new Map(lkg.loadBalancers.map((lb) => [lb.name, lb]));
      if (lkg.damagedLog === undefined) await this.#lkg.resume(lkg.generation);
      else {
        this.#opts.logger.error("last-known-good log damaged: serving the records before it", {
          damaged: lkg.damagedLog,
          revision: lkg.revision,
        });
        // A new snapshot retires the damaged log; the next delta starts from this revision.
        await this.#lkg.snapshot({
          revision: lkg.revision,
          loadBalancers: this.#running,
          addresses: this.#pool.assigned(),
        });
      }
      await this.#runtime.apply(this.#assignments());
      this.#applied = true;
      this.#opts.logger.info("serving last-known-good configuration", {
        revision: lkg.revision,
        loadBalancers: lkg.loadBalancers.length,
      });
    }
    this.#opts.onServing?.();
    // Under a keeper, the worker being replaced lets these ports go only once told to drain.
    const retry = this.#opts.sockets === undefined ? 0 : PORT_HANDOVER_MS;
    if (this.#metricsAfterServing()) await this.#startMetrics(retry);
    const dns = this.#opts.dns;
    if (dns !== undefined) {
      await this.#dns.load();
      const responder = new DnsResponder({
        host: dns.host,
        port: dns.port,
        domain: dns.domain,
        resolve: async (name) => this.#dns.resolve(name),
        // Another agent may serve a name this one does not: let the resolver ask it.
        unknownName: "refused",
        logger: this.#opts.logger,
        ...(this.#opts.dnsSockets === undefined ? {} : { sockets: this.#opts.dnsSockets }),
      });
      this.#dnsPort = (await whileInUse(() => responder.start(), retry, this.#abort.signal)).udpPort;
      this.#dnsResponder = responder;
    }
    this.#runtime.onHealthChange(() => this.#queueReport());
    this.#statusTimer = setInterval(() => this.#queueReport(), this.#opts.statusIntervalMs ?? 1000);
    this.#statusTimer.unref();
    this.#loop = this.#follow();
    this.#queueReport();
  }

  async #follow(): Promise<void> {
    let backoff = 250;
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      try {
        const r = await this.#client.poll(
          this.#revision,
          this.#opts.pollWaitSeconds ?? 25,
          signal,
          !this.#wantFull,
        );
        if (r.kind === "config" && !(await this.accept(r.config))) {
          // Refused: the same document comes back at once; ask again only after a pause.
          await sleep(backoff, signal);
          backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
          continue;
        }
        backoff = 250;
      } catch (e) {
        if (signal.aborted) return;
        if (e instanceof ConfigRejected) {
          this.#refuse(e.revision, `malformed document: ${e.message}`);
          this.#wantFull = true;
        } else
          this.#opts.logger.warn("control plane unreachable; serving last-known-good", { err: String(e) });
        await sleep(backoff, signal);
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      }
    }
  }

  /**
   * Merges, persists and applies one document; false when the agent's guard refuses it (it then
   * keeps serving what it has, and reports the refusal). Exposed for tests of the agent's rules.
   */
  async accept(doc: AgentConfig): Promise<boolean> {
    const refusal = agentRefusal(this.#running.size, doc);
    if (refusal !== null) {
      this.#refuse(doc.revision, refusal);
      return false;
    }
    if (doc.delta !== undefined && doc.delta.from !== this.#revision) {
      this.#refuse(
        doc.revision,
        `a delta from revision ${doc.delta.from}, but this agent runs revision ${this.#revision}`,
      );
      this.#wantFull = true;
      return false;
    }
    this.#refused = undefined;
    const full = doc.delta === undefined;
    const merged = full ? mergeFull(this.#running, doc) : mergeDelta(this.#running, this.#unexplained, doc);
    for (const name of merged.left) this.#pool.release(name);
    for (const lb of merged.changed) this.#pool.addressOf(lb.name);
    const after = (): RunningSet => ({
      revision: doc.revision,
      loadBalancers: merged.running,
      addresses: this.#pool.assigned(),
    });
    if (full) await this.#lkg.snapshot(after());
    else {
      const addresses: Record<string, string> = {};
      for (const lb of merged.changed) addresses[lb.name] = this.#pool.addressOf(lb.name);
      const change = { revision: doc.revision, loadBalancers: merged.changed, left: merged.left, addresses };
      await this.#lkg.change(change, after);
    }
    this.#revision = doc.revision;
    this.#running = merged.running;
    this.#unexplained = merged.unexplained;
    if (full) this.#wantFull = false;
    if (merged.unexplained.length > 0) {
      this.#opts.logger.warn("kept what the control plane neither stated nor removed", {
        revision: doc.revision,
        unexplained: merged.unexplained,
      });
    }
    await this.#runtime.apply(this.#assignments());
    this.#applied = true;
    this.#opts.logger.info("applied configuration", {
      revision: doc.revision,
      loadBalancers: merged.running.size,
      changed: merged.changed.length,
      removals: doc.removals.length,
      delta: !full,
    });
    this.#queueReport();
    // Once the change serves: fold a log grown larger than the snapshot into a new one.
    await this.#lkg.compactIfLarge(after);
    return true;
  }

  /** A NACK: the document is refused whole, the one before keeps serving, the status says why. */
  #refuse(revision: number, reason: string): void {
    if (this.#refused?.revision !== revision || this.#refused.reason !== reason)
      this.#opts.logger.error("refused a configuration document; serving the one before", {
        revision,
        running: this.#revision,
        reason,
      });
    this.#refused = { revision, reason };
    this.#queueReport();
  }

  #metricsAfterServing(): boolean {
    return this.#opts.sockets !== undefined && (this.#opts.metricsListen?.port ?? 0) !== 0;
  }

  async #startMetrics(retryMs: number): Promise<void> {
    const listen = this.#opts.metricsListen;
    if (listen === undefined) return;
    const workers = this.#opts.workers;
    const options = {
      source: this.#runtime,
      zone: this.#opts.zone,
      agent: () => ({
        revision: this.#revision,
        readiness: this.readiness(),
        ...(workers === undefined ? {} : { workers }),
      }),
      host: listen.host,
      port: listen.port,
      logger: this.#opts.logger,
    };
    this.#metricsServer = await whileInUse(() => startMetricsServer(options), retryMs, this.#abort.signal);
    const address = `${urlHost(listen.host)}:${this.#metricsServer.port}`;
    // Written whole then renamed: a reader never sees half an address.
    const file = join(this.#opts.dataDir, "metrics-address");
    await writeFile(`${file}.tmp`, `${address}\n`, { mode: 0o600 });
    await rename(`${file}.tmp`, file);
    this.#opts.logger.info("serving metrics", { url: `http://${address}/metrics` });
  }

  #assignments(): NodeAssignment[] {
    return [...this.#running.values()].map((spec) => ({ address: this.#pool.addressOf(spec.name), spec }));
  }

  status(): AgentStatus {
    return {
      agentId: this.#opts.agentId,
      zone: this.#opts.zone,
      configRevision: this.#revision,
      nodes: this.#runtime.nodes(),
      health: this.#runtime.health(),
      unexplained: this.#unexplained,
      ...(this.#refused === undefined ? {} : { refused: this.#refused }),
      traffic: this.#runtime.traffic(),
      time: new Date().toISOString(),
    };
  }

  #queueReport(): void {
    this.#reporter.queue();
  }

  /** Status reports sent since start, full or partial (only what changed since the acknowledged one). */
  get statusReports(): { readonly full: number; readonly partial: number } {
    return this.#reporter.counts;
  }

  /** Stops following the control plane, lets DNS and metrics go, then drains for up to `graceMs`. */
  async stop(graceMs?: number): Promise<void> {
    this.#abort.abort();
    if (this.#statusTimer) clearInterval(this.#statusTimer);
    await this.#loop;
    await this.#metricsServer?.close();
    await this.#dnsResponder?.close();
    await this.#runtime.close(graceMs);
  }
}

/** Runs `bind` again every 50 ms while it fails with EADDRINUSE, for up to `forMs`. */
async function whileInUse<T>(bind: () => Promise<T>, forMs: number, signal: AbortSignal): Promise<T> {
  const deadline = Date.now() + forMs;
  for (;;) {
    try {
      return await bind();
    } catch (e) {
      const inUse = (e as NodeJS.ErrnoException).code === "EADDRINUSE";
      if (!inUse || Date.now() >= deadline || signal.aborted) throw e;
      await sleep(50, signal);
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });
}
