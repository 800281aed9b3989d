/**
 * `<data-dir>/prometheus-targets.json`: every metrics address `ballast up` runs, in Prometheus'
 * `file_sd` format, so a `file_sd_configs` entry finds the control plane and each agent wherever
 * they listen. Agents write the address they bound to `<agent-data-dir>/metrics-address`; the
 * file is rewritten (whole, then renamed into place) whenever one of them changes, e.g. when a
 * restarted agent bound a new free port.
 */
import { readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "../util/logger.js";

export const TARGETS_FILE = "prometheus-targets.json";
export const AGENT_METRICS_ADDRESS_FILE = "metrics-address";

/** One `file_sd` target group. */
export interface TargetGroup {
  readonly targets: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
}

export interface ScrapedAgent {
  readonly zone: string;
  readonly dataDir: string;
}

export class ScrapeTargets {
  readonly #dataDir: string;
  readonly #control: string;
  readonly #region: string;
  readonly #agents: readonly ScrapedAgent[];
  readonly #logger: Logger;
  #written = "";
  #timer: NodeJS.Timeout | undefined;

  constructor(opts: {
    /** Where the targets file goes. */
    readonly dataDir: string;
    /** `host:port` of the control plane's /metrics. */
    readonly control: string;
    readonly region: string;
    readonly agents: readonly ScrapedAgent[];
    readonly logger: Logger;
  }) {
    this.#dataDir = opts.dataDir;
    this.#control = opts.control;
    this.#region = opts.region;
    this.#agents = opts.agents;
    this.#logger = opts.logger;
  }

  /** Forgets addresses a previous run left, so nobody reads a dead port as this run's. */
  async clearAgentAddresses(): Promise<void> {
    await Promise.all(
      this.#agents.map((a) => rm(join(a.dataDir, AGENT_METRICS_ADDRESS_FILE), { force: true })),
    );
  }

  /** Each agent's metrics address (`host:port`), or undefined while it has not bound one. */
  async agentAddresses(): Promise<(string | undefined)[]> {
    return Promise.all(
      this.#agents.map(async (a) => {
        const text = await readFile(join(a.dataDir, AGENT_METRICS_ADDRESS_FILE), "utf8").catch(() => "");
        return text.trim() === "" ? undefined : text.trim();
      }),
    );
  }

  async groups(): Promise<TargetGroup[]> {
    const addresses = await this.agentAddresses();
    const groups: TargetGroup[] = [
      { targets: [this.#control], labels: { job: "ballast-control", region: this.#region } },
    ];
    for (const [i, a] of this.#agents.entries()) {
      const address = addresses[i];
      if (address !== undefined)
        groups.push({
          targets: [address],
          labels: { job: "ballast-agent", zone: a.zone, region: this.#region },
        });
    }
    return groups;
  }

  /** Writes the file if what it would say changed; returns its path. */
  async write(): Promise<string> {
    const path = join(this.#dataDir, TARGETS_FILE);
    const text = `${JSON.stringify(await this.groups(), null, 2)}\n`;
    if (text === this.#written) return path;
    await writeFile(`${path}.tmp`, text, { mode: 0o644 });
    await rename(`${path}.tmp`, path);
    this.#written = text;
    this.#logger.info("scrape targets written", { path });
    return path;
  }

  /** Waits (at most `timeoutMs`) until every agent has bound its metrics address. */
  async waitForAgents(timeoutMs: number): Promise<(string | undefined)[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const addresses = await this.agentAddresses();
      if (addresses.every((a) => a !== undefined) || Date.now() >= deadline) return addresses;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Rewrites the file when an agent's address changes, checking every `intervalMs`. */
  watch(intervalMs = 1000): void {
    this.#timer = setInterval(() => {
      this.write().catch((e: unknown) => this.#logger.warn("scrape targets not written", { err: String(e) }));
    }, intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
  }
}
