/**
 * The API's own numbers: calls by action and result, and how long they took. Counted where the
 * audit record of each call is written (every call to either API has exactly one), so the counts
 * and the audit log agree. The composition root hands the families to the control plane's
 * /metrics; nothing here imports the controller.
 *
 * Label values are bounded: `action` is an IAM action name the API itself resolved (or
 * `unauthenticated`), `code` an AWS error code from the API's own table (or `OK`), `api` one of
 * two words; past 500 (action, code) pairs the rest are counted under `other`.
 */
import type { AuditRecord } from "../store/store.js";
import { CappedCounter, LabelledHistogram, type MetricFamilies } from "../util/prometheus.js";
import type { AuditSink } from "./auth/audit-log.js";

export type ApiName = "elb" | "admin";

/** Upper bounds (seconds) of the API latency histogram. */
export const API_DURATION_BUCKETS: readonly number[] = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];

export class ApiMetrics {
  readonly requests = new CappedCounter(
    "ballast_api_requests_total",
    "API calls by IAM action and result (OK, or the AWS error code returned).",
    ["action", "code"],
  );
  readonly duration = new LabelledHistogram(
    "ballast_api_request_duration_seconds",
    "Seconds from receiving an API request to finishing its response, by API (elb: AWS Query, admin: JSON).",
    "api",
    API_DURATION_BUCKETS,
    ["elb", "admin"],
  );

  families(): MetricFamilies[] {
    return [this.requests, this.duration];
  }

  /** An audit sink that counts each call, then hands it on to `inner`. */
  counting(inner: AuditSink): AuditSink {
    return {
      record: (r: Omit<AuditRecord, "time" | "count">) => {
        this.requests.inc([r.action, resultCode(r.result)]);
        inner.record(r);
      },
      unauthenticated: (sourceIp, result, requestId) => {
        this.requests.inc(["unauthenticated", resultCode(result)]);
        inner.unauthenticated(sourceIp, result, requestId);
      },
      flush: (all) => inner.flush(all),
    };
  }
}

function resultCode(result: string): string {
  if (result === "allowed") return "OK";
  if (result === "denied") return "AccessDenied";
  return result;
}
