/**
 * How a control plane stands among replicas, composed: on PostgreSQL, the API's store is a replica
 * (the state in memory, fed by the journal's notifications) and the active controller is whoever
 * holds the controller lock; on SQLite the control plane is alone, always active, and reads its
 * file directly.
 */
import { hostname } from "node:os";
import type { ActiveController, ControlPlanesView } from "../model/leadership.js";
import { SOLE_CONTROLLER } from "../model/leadership.js";
import { openStore } from "../store/open.js";
import { ControllerLock } from "../store/postgres/controller-lock.js";
import { PostgresStore } from "../store/postgres/postgres-store.js";
import { ReplicaStore } from "../store/postgres/replica-store.js";
import type { Store } from "../store/store.js";
import type { Logger } from "../util/logger.js";

export interface Replication {
  /** What the API, the agent channel and DNS read and write through. */
  readonly store: Store;
  /** The stored rows themselves, for the state monitor (it checks what the database holds). */
  readonly database: Store;
  /** What every workflow asks before it acts. */
  readonly controller: ActiveController;
  /** Starts contending for the controller lock, naming this replica by its API port. */
  start(apiPort: number): Promise<void>;
  /** Who is active, for the admin API. */
  view(): Promise<ControlPlanesView>;
  /** The controller's and the replica's numbers, in the Prometheus text format. */
  render(): string;
  /** Gives the lock up (another replica takes over at once). The stores are closed by their owner. */
  stop(): Promise<void>;
}

export async function openReplication(spec: string, dataDir: string, logger: Logger): Promise<Replication> {
  const db = await openStore(spec, dataDir);
  if (!(db instanceof PostgresStore)) return sole(db);
  let store: ReplicaStore;
  try {
    store = await ReplicaStore.open(db, { logger });
  } catch (e) {
    await db.close();
    throw e;
  }
  let lock: ControllerLock | undefined;
  const listeners = new Set<(active: boolean) => void>();
  const controller: ActiveController = {
    isActive: () => lock?.isActive() ?? false,
    onChange: (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
  };
  return {
    store,
    database: db,
    controller,
    start: async (apiPort) => {
      const replicaId = `${hostname().slice(0, 24)}:${apiPort}:${process.pid}`;
      lock = new ControllerLock({
        connectionString: db.connectionString,
        schema: db.schema,
        replicaId,
        logger: logger.child({ component: "controller-lock" }),
      });
      lock.onChange((active) => {
        for (const l of listeners) l(active);
      });
      await lock.start();
    },
    view: async () => {
      if (lock === undefined) throw new Error("the controller lock is not started");
      return {
        self: { id: lock.replicaId, active: lock.isActive(), activeSince: lock.activeSince },
        replicas: await lock.replicas(),
        takeovers: lock.takeovers,
      };
    },
    render: () => {
      const { transactions, revisions } = db.commitStats;
      const sync = store.syncStats;
      return renderGauges([
        [
          "ballast_controller_active",
          "gauge",
          "1 while this replica is the active controller (runs the workflows).",
          lock?.isActive() ? 1 : 0,
        ],
        [
          "ballast_controller_takeovers_total",
          "counter",
          "Times this replica became the active controller.",
          lock?.takeovers ?? 0,
        ],
        [
          "ballast_replica_head_revision",
          "gauge",
          "Newest journal revision this replica's in-memory state has applied.",
          sync.head,
        ],
        [
          "ballast_replica_applied_revisions_total",
          "counter",
          "Revisions this replica applied from the journal.",
          sync.applied,
        ],
        [
          "ballast_replica_reloads_total",
          "counter",
          "Whole-state reloads of this replica (start, lost notifications, compaction, epoch).",
          sync.reloads,
        ],
        [
          "ballast_store_commit_transactions_total",
          "counter",
          "Mutation transactions this replica committed (group commit).",
          transactions,
        ],
        [
          "ballast_store_committed_revisions_total",
          "counter",
          "Revisions those transactions carried.",
          revisions,
        ],
      ]);
    },
    stop: async () => {
      await lock?.stop();
    },
  };
}

/** SQLite: one control plane, always the active controller. */
function sole(store: Store): Replication {
  let id = `${hostname().slice(0, 24)}:${process.pid}`;
  let since: string | null = null;
  return {
    store,
    database: store,
    controller: SOLE_CONTROLLER,
    start: async (apiPort) => {
      id = `${hostname().slice(0, 24)}:${apiPort}:${process.pid}`;
      since = new Date().toISOString();
    },
    view: async () => ({
      self: { id, active: true, activeSince: since },
      replicas: [{ id, active: true, connectedSince: since ?? new Date().toISOString(), address: null }],
      takeovers: 1,
    }),
    render: () =>
      renderGauges([
        [
          "ballast_controller_active",
          "gauge",
          "1 while this replica is the active controller (runs the workflows).",
          1,
        ],
      ]),
    stop: async () => undefined,
  };
}

function renderGauges(rows: readonly [string, "gauge" | "counter", string, number][]): string {
  return rows
    .map(([name, type, help, value]) => `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n${name} ${value}\n`)
    .join("");
}
