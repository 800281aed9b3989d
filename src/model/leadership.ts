/**
 * Which control-plane replica runs the workflows. Several `ballast control` processes may serve
 * the API on one PostgreSQL database, but only one — the active controller — may run what changes
 * state on its own (the state monitor's repairs, scheduled backups, and later scaling and
 * failover): two controllers repairing from two views of the state is how 2012's incomplete state
 * became misconfigured load balancers. Every such workflow asks this one interface before it acts.
 */
export interface ActiveController {
  /** True only while this process holds the controller lock (always, for a lone control plane). */
  isActive(): boolean;
  /** Hears every change of `isActive()`, at once. Returns an unsubscribe. */
  onChange(listener: (active: boolean) => void): () => void;
}

/** A control plane alone on its store (SQLite): always the active controller. */
export const SOLE_CONTROLLER: ActiveController = {
  isActive: () => true,
  onChange: () => () => undefined,
};

/** One control-plane replica as the database sees it (GET /admin/v1/control-planes). */
export interface ControlPlaneReplica {
  /** `host:apiPort:pid` of the replica (as it named its session). */
  readonly id: string;
  /** Holds the controller lock: runs the workflows. */
  readonly active: boolean;
  /** When its lock session connected (ISO 8601). */
  readonly connectedSince: string;
  /** The address its session comes from, as PostgreSQL sees it. */
  readonly address: string | null;
}

/** What the admin API answers about the replicas: this one, and every one connected. */
export interface ControlPlanesView {
  readonly self: { readonly id: string; readonly active: boolean; readonly activeSince: string | null };
  readonly replicas: readonly ControlPlaneReplica[];
  /** Times this replica became the active controller since it started. */
  readonly takeovers: number;
}
