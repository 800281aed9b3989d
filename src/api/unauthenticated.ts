/**
 * Requests refused before their caller was authenticated — no or malformed signature, an unknown
 * access key, a wrong signature or clock, a body too large or a connection closed before the
 * signature was verified — are noise on any listening port, not failures of Ballast. Each is
 * counted (`ballast_api_unauthenticated_requests_total{reason}`) and they are logged as one
 * summary line at most every 10 s, at info level: 5,000 of them in a burst make a few lines.
 */
import { isBallastError } from "../model/errors.js";
import { LabelledCounter } from "../util/counters.js";
import type { Logger } from "../util/logger.js";
import { ClientClosedError } from "./aws-query/body.js";

export type UnauthenticatedReason =
  | "missing-signature"
  | "malformed-signature"
  | "unknown-access-key"
  | "signature-mismatch"
  | "body-too-large"
  | "closed-before-authentication";

export const UNAUTHENTICATED_METRIC = "ballast_api_unauthenticated_requests_total";

export function unauthenticatedCounter(): LabelledCounter {
  return new LabelledCounter(
    UNAUTHENTICATED_METRIC,
    "API requests refused before the caller was authenticated, by reason.",
    "reason",
  );
}

/** Why a request that failed before authentication failed; undefined for any other error. */
export function unauthenticatedReason(e: unknown): UnauthenticatedReason | undefined {
  if (e instanceof ClientClosedError) return "closed-before-authentication";
  if (!isBallastError(e)) return undefined;
  switch (e.code) {
    case "MissingAuthenticationToken":
      return "missing-signature";
    case "IncompleteSignature":
      return "malformed-signature";
    case "InvalidClientTokenId":
      return "unknown-access-key";
    case "SignatureDoesNotMatch":
      return "signature-mismatch";
    case "RequestEntityTooLarge":
      return "body-too-large";
    default:
      return undefined;
  }
}

export interface UnauthenticatedNoiseOptions {
  readonly logger: Logger;
  /** Shared with /metrics; a private one when absent. */
  readonly counter?: LabelledCounter;
  /** At most one summary line per this many milliseconds (default 10 s). */
  readonly intervalMs?: number;
  readonly now?: () => number;
}

/** Counts every unauthenticated refusal and logs them as a rate-limited summary. */
export class UnauthenticatedNoise {
  readonly counter: LabelledCounter;
  readonly #logger: Logger;
  readonly #intervalMs: number;
  readonly #now: () => number;
  #pending = new Map<string, number>();
  #sources = new Set<string>();
  #lastLine = Number.NEGATIVE_INFINITY;
  #timer: NodeJS.Timeout | undefined;

  constructor(opts: UnauthenticatedNoiseOptions) {
    this.counter = opts.counter ?? unauthenticatedCounter();
    this.#logger = opts.logger;
    this.#intervalMs = opts.intervalMs ?? 10_000;
    this.#now = opts.now ?? Date.now;
  }

  record(reason: UnauthenticatedReason, sourceIp: string | undefined): void {
    this.counter.inc(reason);
    this.#pending.set(reason, (this.#pending.get(reason) ?? 0) + 1);
    if (sourceIp !== undefined && this.#sources.size < 5) this.#sources.add(sourceIp);
    const wait = this.#lastLine + this.#intervalMs - this.#now();
    if (wait <= 0) this.flush();
    else if (this.#timer === undefined) {
      this.#timer = setTimeout(() => this.flush(), wait);
      this.#timer.unref();
    }
  }

  /** Logs what was counted since the last line, if anything. */
  flush(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending.size === 0) return;
    const byReason = Object.fromEntries(this.#pending);
    let count = 0;
    for (const n of this.#pending.values()) count += n;
    this.#logger.info("unauthenticated requests refused", {
      count,
      byReason,
      sampleSources: [...this.#sources],
      total: this.counter.total(),
    });
    this.#pending = new Map();
    this.#sources = new Set();
    this.#lastLine = this.#now();
  }
}
