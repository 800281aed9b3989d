/**
 * Sends the agent's status reports: 50 ms after it is asked (a timer, a health change, an applied
 * document), one at a time — each partial report applies onto the one acknowledged before it —
 * and again at once when the control plane asks for a full one. A failure is logged at debug and
 * never reaches the data plane.
 */
import type { AgentStatus, StatusAck } from "../model/agent-protocol.js";
import type { Logger } from "../util/logger.js";
import type { ConfigClient } from "./config-client.js";
import { StatusReports } from "./status-reports.js";

export interface StatusReporterOptions {
  readonly client: ConfigClient;
  /** The agent's whole status now. */
  readonly status: () => AgentStatus;
  /** What the control plane answered (DNS records, when it sent them). */
  readonly onAck: (ack: StatusAck) => Promise<void>;
  readonly signal: AbortSignal;
  readonly logger: Logger;
  readonly fullEveryMs?: number;
}

export class StatusReporter {
  readonly #opts: StatusReporterOptions;
  readonly #reports: StatusReports;
  #queued = false;
  #inFlight = false;
  #again = false;

  constructor(opts: StatusReporterOptions) {
    this.#opts = opts;
    this.#reports = new StatusReports(opts.fullEveryMs);
  }

  /** Reports sent so far, full or partial. */
  get counts(): { readonly full: number; readonly partial: number } {
    return { ...this.#reports.counts };
  }

  queue(): void {
    if (this.#opts.signal.aborted) return;
    if (this.#inFlight) {
      this.#again = true;
      return;
    }
    if (this.#queued) return;
    this.#queued = true;
    setTimeout(() => this.#send(), 50).unref();
  }

  #send(): void {
    this.#queued = false;
    this.#inFlight = true;
    const { client, signal, logger } = this.#opts;
    const report = this.#reports.next(this.#opts.status(), client.endpoint);
    client
      .report(report, signal)
      .then(async (ack) => {
        this.#reports.acknowledged(ack);
        if (ack?.resend === "full") this.#again = true;
        if (ack?.dns !== undefined) await this.#opts.onAck(ack);
      })
      .catch((e: unknown) => {
        this.#reports.failed();
        if (!signal.aborted) logger.debug("status report failed", { err: String(e) });
      })
      .finally(() => {
        this.#inFlight = false;
        if (this.#again) {
          this.#again = false;
          this.queue();
        }
      });
  }
}
