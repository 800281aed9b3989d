/**
 * The control plane's /metrics, /healthz and /readyz, composed: the controller's numbers, the
 * API's counters and the process's, and a readiness that asks the store. `control-plane.ts`
 * routes them on the API port and, with --metrics-listen, on a listener of their own.
 */
import type { ChangeGuard } from "../controller/guard.js";
import { renderMetrics } from "../controller/metrics.js";
import type { StateMonitor } from "../controller/state-monitor.js";
import type { Store } from "../store/store.js";
import type { Logger } from "../util/logger.js";
import type { ObservabilityHandlers, Readiness } from "../util/observability-server.js";
import { startProcessMetrics } from "../util/process-metrics.js";
import type { MetricFamilies } from "../util/prometheus.js";

export function controlPlaneObservability(opts: {
  readonly store: Store;
  readonly monitor: StateMonitor;
  readonly guard: ChangeGuard;
  /** Families other parts keep (the API's counters). */
  readonly families: readonly MetricFamilies[];
  readonly logger: Logger;
}): ObservabilityHandlers & { readonly metrics: () => Promise<string> } {
  startProcessMetrics();
  const { store, monitor, guard } = opts;
  return {
    metrics: () => renderMetrics(store, controllerGauges(monitor, guard), Date.now(), opts.families),
    readiness: () => controlPlaneReadiness(store, monitor),
    logger: opts.logger,
  };
}

/** The numbers the controller's workflows add to the metrics, read at scrape time. */
function controllerGauges(monitor: StateMonitor, guard: ChangeGuard) {
  const last = monitor.last;
  return {
    stateVerified: monitor.verified,
    stateRepairs: monitor.repairs,
    walks: monitor.walks,
    guardHolds: guard
      .holds()
      .map((h) => ({ zone: h.zone, removedLoadBalancers: h.verdict.removedLoadBalancers })),
    alarms: last?.alarms ?? [],
    readOnly: monitor.readOnly() !== undefined,
    ...(last === undefined ? {} : { checkedAt: last.checkedAt }),
  };
}

/** How long /readyz waits on the store before it answers 503. */
const READY_STORE_TIMEOUT_MS = 2000;

/**
 * Ready: the store answers. The state's verdict is in the body (verified, degraded — alarms
 * raised —, read-only, or not checked yet) but does not make the process unready: a control
 * plane with alarms still serves reads and the operators' repairs.
 */
async function controlPlaneReadiness(store: Store, monitor: StateMonitor): Promise<Readiness> {
  let head: number | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    head = await Promise.race([
      store.head(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("store timeout")), READY_STORE_TIMEOUT_MS);
      }),
    ]);
  } catch {
    head = undefined;
  } finally {
    clearTimeout(timer);
  }
  const last = monitor.last;
  const state =
    monitor.readOnly() !== undefined
      ? "read-only"
      : last === undefined
        ? "unchecked"
        : last.verified
          ? "verified"
          : "degraded";
  return {
    ready: head !== undefined,
    detail: {
      store: head === undefined ? "unreadable" : "ok",
      driver: store.driver,
      ...(head === undefined ? {} : { head }),
      state,
      alarms: (last?.alarms ?? []).map((a) => a.kind),
    },
  };
}
