/**
 * The agent's side of partial status reports (model/status-delta.ts): which report to send next,
 * full or only what changed since the last one the control plane acknowledged.
 *
 * A full report goes first, every FULL_EVERY_MS, after the control plane asks for one, after a
 * report failed, and after the endpoint changed (another replica holds no base). A control plane
 * whose acknowledgement names no `accepted` report (an earlier version) gets full reports only.
 * Report numbers start at the clock's milliseconds, so a restarted agent never reuses a number a
 * control plane still holds as its base.
 */
import type { AgentStatus, StatusAck } from "../model/agent-protocol.js";
import { type KeyedStatus, keyStatus, partialStatus } from "../model/status-delta.js";

export const FULL_EVERY_MS = 30_000;

interface Sent {
  readonly seq: number;
  readonly keys: KeyedStatus;
  readonly endpoint: string;
  readonly full: boolean;
}

export class StatusReports {
  #seq: number;
  /** The last acknowledged report: partial reports apply onto it. */
  #base: { readonly seq: number; readonly keys: KeyedStatus; readonly endpoint: string } | undefined;
  #sent: Sent | undefined;
  #lastFullMs = Number.NEGATIVE_INFINITY;
  #dnsTag: string | undefined;
  readonly #fullEveryMs: number;
  readonly counts = { full: 0, partial: 0 };

  constructor(fullEveryMs = FULL_EVERY_MS, nowMs = Date.now()) {
    this.#fullEveryMs = fullEveryMs;
    this.#seq = nowMs;
  }

  /** The report to send now for the agent's whole status `now`, to `endpoint`. */
  next(now: AgentStatus, endpoint: string, nowMs = Date.now()): AgentStatus {
    const seq = ++this.#seq;
    const keys = keyStatus(now);
    const base = this.#base;
    const tag = this.#dnsTag === undefined ? {} : { dnsTag: this.#dnsTag };
    const full =
      base === undefined || base.endpoint !== endpoint || nowMs - this.#lastFullMs >= this.#fullEveryMs;
    this.#sent = { seq, keys, endpoint, full };
    if (full || base === undefined) {
      this.#lastFullMs = nowMs;
      this.counts.full++;
      return { ...now, report: { seq, ...tag } };
    }
    this.counts.partial++;
    return partialStatus(now, keys, base.keys, { seq, base: base.seq, ...tag });
  }

  /** The control plane's answer to the report `next` returned last (undefined: it answered 204). */
  acknowledged(ack: StatusAck | undefined): void {
    const sent = this.#sent;
    this.#sent = undefined;
    if (ack?.dnsTag !== undefined && ack.dns !== undefined) this.#dnsTag = ack.dnsTag;
    if (sent === undefined || ack === undefined || ack.resend === "full" || ack.accepted !== sent.seq) {
      this.#base = undefined;
      return;
    }
    this.#base = { seq: sent.seq, keys: sent.keys, endpoint: sent.endpoint };
  }

  /** The report was not answered: the control plane may or may not hold it, so the next is full. */
  failed(): void {
    this.#sent = undefined;
    this.#base = undefined;
  }

  /** The last report was refused for want of a base: send the next at once. */
  get wantsFull(): boolean {
    return this.#base === undefined;
  }
}
