/**
 * The audit log's writer: every call to either API is one AuditRecord (store.ts), buffered and
 * appended in batches (every `flushMs`, or at once when `maxBatch` are waiting), so the API does
 * not wait on one more write per request.
 *
 * Failed authentications come from callers nobody knows, so a flood of them must not grow the
 * table without bound: they are counted per source address, error code and minute, and each
 * minute writes one record per (source, code) with its `count` — at most `maxSourcesPerMinute`
 * distinct sources, the rest counted together under the source `*`.
 */
import type { IncomingMessage } from "node:http";
import { ANONYMOUS, userArn } from "../../model/access.js";
import type { AccessRequest } from "../../model/iam-policy.js";
import type { Credential } from "../../model/types.js";
import type { AuditRecord, Store } from "../../store/store.js";
import type { Logger } from "../../util/logger.js";
import { headerValue } from "./sigv4-canonical.js";

export interface AuditLogOptions {
  readonly store: Store;
  readonly logger: Logger;
  readonly flushMs?: number;
  readonly maxBatch?: number;
  readonly maxSourcesPerMinute?: number;
  readonly now?: () => Date;
}

/** What the API edges write to; AuditLog is the one implementation, tests may give their own. */
export interface AuditSink {
  record(record: Omit<AuditRecord, "time" | "count">): void;
  unauthenticated(sourceIp: string, result: string, requestId: string): void;
  /** Appends everything waiting (failed authentications of the minute under way too, with `all`). */
  flush(all?: boolean): Promise<void>;
}

interface Aggregate {
  minute: number;
  sourceIp: string;
  result: string;
  requestId: string;
  count: number;
}

export class AuditLog implements AuditSink {
  readonly #store: Store;
  readonly #logger: Logger;
  readonly #maxBatch: number;
  readonly #maxSources: number;
  readonly #now: () => Date;
  #buffer: AuditRecord[] = [];
  readonly #aggregates = new Map<string, Aggregate>();
  #writing: Promise<void> = Promise.resolve();
  readonly #timer: NodeJS.Timeout;
  #dropped = 0;

  constructor(opts: AuditLogOptions) {
    this.#store = opts.store;
    this.#logger = opts.logger.child({ component: "audit" });
    this.#maxBatch = opts.maxBatch ?? 500;
    this.#maxSources = opts.maxSourcesPerMinute ?? 1000;
    this.#now = opts.now ?? (() => new Date());
    this.#timer = setInterval(() => void this.flush(false), opts.flushMs ?? 200);
    this.#timer.unref();
  }

  record(record: Omit<AuditRecord, "time" | "count">): void {
    this.#buffer.push({ time: this.#now().toISOString(), ...record, count: 1 });
    // A break-glass call is an alarm: written at once, not with the next batch.
    if (this.#buffer.length >= this.#maxBatch || record.breakGlass !== undefined) void this.flush(false);
  }

  unauthenticated(sourceIp: string, result: string, requestId: string): void {
    const minute = Math.floor(this.#now().getTime() / 60_000);
    let key = `${minute}\n${sourceIp}\n${result}`;
    let source = sourceIp;
    if (!this.#aggregates.has(key) && this.#aggregates.size >= this.#maxSources) {
      source = "*";
      key = `${minute}\n*\n${result}`;
    }
    const a = this.#aggregates.get(key);
    if (a) {
      a.count++;
      a.requestId = requestId;
    } else this.#aggregates.set(key, { minute, sourceIp: source, result, requestId, count: 1 });
  }

  flush(all = false): Promise<void> {
    const thisMinute = Math.floor(this.#now().getTime() / 60_000);
    const batch = this.#buffer;
    this.#buffer = [];
    for (const [key, a] of this.#aggregates) {
      if (!all && a.minute >= thisMinute) continue;
      this.#aggregates.delete(key);
      batch.push({
        time: new Date(a.minute * 60_000).toISOString(),
        principal: ANONYMOUS,
        action: "-",
        resource: "*",
        sourceIp: a.sourceIp,
        requestId: a.requestId,
        result: a.result,
        count: a.count,
      });
    }
    if (batch.length === 0) return this.#writing;
    // One write at a time, in order; a failed write is logged and its records counted as lost.
    this.#writing = this.#writing.then(async () => {
      try {
        for (let i = 0; i < batch.length; i += 1000) await this.#store.appendAudit(batch.slice(i, i + 1000));
      } catch (e) {
        this.#dropped += batch.length;
        this.#logger.error("audit records could not be written", {
          records: batch.length,
          lost: this.#dropped,
          err: e,
        });
      }
    });
    return this.#writing;
  }

  /** Stops the timer and appends everything waiting. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.flush(true);
  }
}

/** What the audit record of one call says, filled in by a handler as the call gets that far. */
export interface AuditedCall {
  credential?: Credential;
  request?: AccessRequest;
  /** The reason of a break-glass call (change-control.ts). */
  breakGlass?: string;
}

/**
 * The record of one finished call, for both API edges: `code` is undefined for a success; an
 * AccessDenied is `denied`; a call that never authenticated is counted, not recorded (see above).
 */
export function auditCall(
  sink: AuditSink | undefined,
  req: IncomingMessage,
  requestId: string,
  call: AuditedCall,
  code?: string,
): void {
  if (sink === undefined) return;
  const sourceIp = req.socket.remoteAddress ?? "";
  const result = code === undefined ? "allowed" : code === "AccessDenied" ? "denied" : code;
  if (call.credential === undefined) {
    sink.unauthenticated(sourceIp, result, requestId);
    return;
  }
  const ticket = headerValue(req.headers, "x-ballast-ticket");
  sink.record({
    principal: userArn(call.credential.principal),
    accessKeyId: call.credential.accessKeyId,
    action: call.request?.action ?? "-",
    resource: call.request?.resource ?? "*",
    sourceIp,
    requestId,
    result,
    ...(ticket === undefined ? {} : { ticket }),
    ...(call.breakGlass === undefined ? {} : { breakGlass: call.breakGlass }),
  });
}
