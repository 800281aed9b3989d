/**
 * A control-plane replica's view of the PostgreSQL journal: the current state held in memory, so
 * the API's reads never go to the database, and kept fresh by the journal's notifications.
 *
 * - Every commit, by any replica, notifies `<schema>:<revision>` on one channel (mutate.ts); this
 *   replica listens on a connection of its own and applies the entity versions after its head, in
 *   revision order, from the journal itself (the notification only says how far to read).
 * - A compaction or a new epoch notifies `<schema>:compacted` / `<schema>:epoch`: history was
 *   rewritten, so the replica reloads the whole state. So does a listener that lost its connection
 *   (it may have missed notifications), once it is back.
 * - A replica that made a write reads it at once: its `mutate` returns only after the revision is
 *   applied here (read-your-writes per replica). Another replica's write is seen a notification
 *   later — milliseconds.
 *
 * Writes, history, agent statuses and the audit log go to the database as before (PostgresStore).
 * The new state is built aside and swapped in whole on a reload; each applied version replaces one
 * entry, and listings are re-sorted only when their kind changed.
 */
import { setTimeout as delay } from "node:timers/promises";
import { ENTITY_KINDS, type EntityKind, type EntityTypes } from "../../model/types.js";
import type { Logger } from "../../util/logger.js";
import type {
  Current,
  EntityVersion,
  EpochResult,
  EpochStart,
  MutateOptions,
  MutationResult,
  MutationTx,
  Revision,
  RevisionMeta,
  Store,
} from "../store.js";
import type { Appended, CommittedCache } from "./batch-view.js";
import { HistoryCache } from "./history-cache.js";
import { JournalListener } from "./journal-listener.js";
import type { PostgresStore } from "./postgres-store.js";
import { DatabasePassThrough } from "./replica-passthrough.js";

/** How long a notification waits for this replica's own batch in flight before reading anyway. */
const OWN_BATCH_WAIT_MS = 50;

type AnyCurrent = Current<EntityKind>;

export interface ReplicaStoreOptions {
  readonly logger: Logger;
  /** How often the head is read as a safety net besides notifications. Default 5000 ms. */
  readonly pollMs?: number;
}

export class ReplicaStore extends DatabasePassThrough implements Store, CommittedCache {
  readonly driver = "postgres";
  readonly #db: PostgresStore;
  readonly #log: Logger;
  readonly #pollMs: number;
  readonly #listeners = new Set<(r: Revision) => void>();
  #state = new Map<EntityKind, Map<string, AnyCurrent>>();
  readonly #sorted = new Map<EntityKind, readonly AnyCurrent[]>();
  #head = 0;
  /** The newest revision known to exist (notified, or committed here). */
  #target = 0;
  #reloadWanted = false;
  #syncing: Promise<void> | undefined;
  readonly #listener: JournalListener;
  #closed = false;
  #syncRetry: NodeJS.Timeout | undefined;
  #poll: NodeJS.Timeout | undefined;
  #applied = 0;
  #reloads = 0;
  readonly #histories = new HistoryCache();

  private constructor(db: PostgresStore, opts: ReplicaStoreOptions) {
    super(db);
    this.#db = db;
    this.#log = opts.logger.child({ component: "replica-store" });
    this.#pollMs = opts.pollMs ?? 5000;
    // This replica's own commits: known at once, before any notification comes back.
    db.onCommit((r) => this.#raise(r.number));
    // Group commit reads this memory instead of the database when it is at the journal's head.
    db.useCache(this);
    this.#listener = new JournalListener({
      connectionString: db.connectionString,
      schema: db.schema,
      logger: this.#log,
      onRevision: (n) => this.#raise(n),
      onReload: () => {
        this.#reloadWanted = true;
        void this.#kick();
      },
    });
  }

  /** Listens first, then loads the state: nothing committed in between is missed. */
  static async open(db: PostgresStore, opts: ReplicaStoreOptions): Promise<ReplicaStore> {
    const replica = new ReplicaStore(db, opts);
    await replica.#listener.start();
    await replica.#reload();
    replica.#poll = setInterval(() => {
      db.head().then(
        (h) => replica.#raise(h),
        (err: unknown) => replica.#log.warn("head poll failed", { err }),
      );
    }, replica.#pollMs);
    replica.#poll.unref();
    return replica;
  }

  get codec() {
    return this.#db.codec;
  }

  /** The database store under this replica (the state monitor checks the stored rows themselves). */
  get database(): PostgresStore {
    return this.#db;
  }

  /** Revisions applied from the journal, and whole reloads, since open. */
  get syncStats(): { readonly applied: number; readonly reloads: number; readonly head: number } {
    return { applied: this.#applied, reloads: this.#reloads, head: this.#head };
  }

  async mutate<T>(
    meta: RevisionMeta,
    fn: (tx: MutationTx) => Promise<T>,
    opts?: MutateOptions,
  ): Promise<MutationResult<T>> {
    const out = await this.#db.mutate(meta, fn, opts);
    if (out.revision !== undefined) await this.#reach(out.revision.number);
    return out;
  }

  /** An entity's history: from the database, then from memory until the entity changes (history-cache.ts). */
  override history(kind: EntityKind, key: string): Promise<readonly EntityVersion[]> {
    return this.#histories.read(
      kind,
      key,
      () => this.#head,
      () => this.db.history(kind, key),
    );
  }

  /** Histories read from the database since open (the rest came from memory). */
  get historyReads(): number {
    return this.#histories.reads;
  }

  async get<K extends EntityKind>(kind: K, key: string): Promise<Current<K> | undefined> {
    return this.#state.get(kind)?.get(key) as Current<K> | undefined;
  }

  async list<K extends EntityKind>(kind: K): Promise<readonly Current<K>[]> {
    let sorted = this.#sorted.get(kind);
    if (sorted === undefined) {
      const m = this.#state.get(kind);
      sorted =
        m === undefined
          ? []
          : [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, c]) => c);
      this.#sorted.set(kind, sorted);
    }
    return sorted as readonly Current<K>[];
  }

  async count(kind: EntityKind): Promise<number> {
    return this.#state.get(kind)?.size ?? 0;
  }

  async head(): Promise<number> {
    return this.#head;
  }

  cachedHead(): number {
    return this.#head;
  }

  cachedGet(kind: EntityKind, key: string): AnyCurrent | undefined {
    return this.#state.get(kind)?.get(key);
  }

  applyCommitted(from: number, revisions: readonly Appended[]): void {
    // Only onto the state they were computed from; otherwise the journal is read as usual.
    if (from !== this.#head || this.#closed) return;
    for (const { revision, changes } of revisions) {
      for (const c of changes) this.#apply(this.#state, { ...c, revision: revision.number });
      this.#head = revision.number;
      this.#applied++;
    }
    if (this.#head > this.#target) this.#target = this.#head;
    for (const { revision } of revisions) this.#emit(revision);
  }

  applyJournal(from: number, revisions: readonly Revision[], versions: readonly EntityVersion[]): void {
    const last = revisions.at(-1);
    if (from !== this.#head || this.#closed || last === undefined || revisions.length !== last.number - from)
      return;
    for (const v of versions) this.#apply(this.#state, v);
    this.#head = last.number;
    this.#applied += revisions.length;
    if (this.#head > this.#target) this.#target = this.#head;
    for (const r of revisions) this.#emit(r);
  }

  cachedList(kind: EntityKind): { key: string; doc: EntityTypes[EntityKind] }[] {
    const m = this.#state.get(kind);
    if (m === undefined) return [];
    return [...m.entries()].map(([key, c]) => ({ key, doc: c.doc }));
  }

  async startEpoch(start: EpochStart): Promise<EpochResult> {
    const result = await this.#db.startEpoch(start);
    this.#reloadWanted = true;
    await this.#kick();
    return result;
  }

  /** Hears every revision once this replica has applied it, whichever replica wrote it. */
  onCommit(listener: (revision: Revision) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#syncRetry !== undefined) clearTimeout(this.#syncRetry);
    if (this.#poll !== undefined) clearInterval(this.#poll);
    await this.#syncing?.catch(() => undefined);
    await this.#listener.close();
    await this.#db.close();
  }

  /** Waits until revision `n` is applied here (or the journal cannot be read: logged, not thrown). */
  async #reach(n: number): Promise<void> {
    this.#raise(n);
    while (this.#head < n && !this.#closed) {
      const before = this.#head;
      await this.#kick();
      if (this.#head === before && this.#head < n) return;
    }
  }

  #raise(n: number): void {
    if (n <= this.#target) return;
    this.#target = n;
    void this.#kick();
  }

  /** One sync at a time; it runs until nothing is wanted, and never rejects. */
  #kick(): Promise<void> {
    let failed = false;
    this.#syncing ??= this.#sync()
      .catch((err: unknown) => {
        failed = true;
        this.#log.warn("replica sync failed; reloading in a second", { err });
        this.#reloadWanted = true;
      })
      .finally(() => {
        this.#syncing = undefined;
        if (this.#closed || (this.#target <= this.#head && !this.#reloadWanted)) return;
        // A failure is tried again after a pause; work raised after the loop's last look (whose
        // caller got the finished promise) starts at once.
        if (!failed) void this.#kick();
        else if (this.#syncRetry === undefined) {
          this.#syncRetry = setTimeout(() => {
            this.#syncRetry = undefined;
            void this.#kick();
          }, 1000);
          this.#syncRetry.unref();
        }
      });
    return this.#syncing;
  }

  async #sync(): Promise<void> {
    let waited = false;
    for (;;) {
      if (this.#closed) return;
      if (this.#reloadWanted) {
        this.#reloadWanted = false;
        await this.#reload();
      } else if (this.#target > this.#head) {
        // This replica's own batch in flight reads the same revisions under the lock: wait for
        // it once (a while at most: a batch waiting behind a long transaction must not hold back
        // what readers here see), then read whatever it did not bring.
        const writing: Promise<unknown> | undefined = waited ? undefined : this.#db.writing();
        waited = writing !== undefined;
        if (writing !== undefined) await Promise.race([writing, delay(OWN_BATCH_WAIT_MS)]);
        else await this.#catchUp(this.#target);
      } else return;
    }
  }

  /** Applies the versions of revisions head < n <= to, in order. */
  async #catchUp(to: number): Promise<void> {
    const from = this.#head;
    const [revisions, versions] = await Promise.all([
      this.#db.revisions(from, to),
      this.#db.changes(from, to),
    ]);
    // This replica's own batch was applied meanwhile (applyCommitted): read again from the new head.
    if (this.#head !== from) return;
    const last = revisions.at(-1);
    if (last === undefined || revisions.length !== last.number - from) {
      // Numbers missing after the head: not the history this replica built on (a new epoch).
      this.#reloadWanted = true;
      return;
    }
    for (const v of versions) this.#apply(this.#state, v);
    this.#head = last.number;
    this.#applied += revisions.length;
    for (const r of revisions) this.#emit(r);
  }

  /** Loads the whole state aside, then swaps it in. */
  async #reload(): Promise<void> {
    this.#histories.forgetAll();
    const h1 = await this.#db.head();
    const entries = await this.#db.currentEntries();
    // Anything the listing saw is at or below h2; replaying (h1, h2] over it converges (see #apply).
    const h2 = await this.#db.head();
    const versions = await this.#db.changes(h1, h2);
    const state = new Map<EntityKind, Map<string, AnyCurrent>>();
    for (const kind of ENTITY_KINDS) state.set(kind, new Map());
    for (const e of entries) {
      let m = state.get(e.kind);
      if (m === undefined) {
        m = new Map();
        state.set(e.kind, m);
      }
      m.set(e.key, { revision: e.current.revision, doc: Object.freeze(e.current.doc) });
    }
    for (const v of versions) this.#apply(state, v);
    const moved = h2 !== this.#head;
    // Whatever this replica applied of its own meanwhile (above h2) is read again by the next catch-up.
    if (this.#head > this.#target) this.#target = this.#head;
    this.#state = state;
    this.#sorted.clear();
    this.#head = h2;
    if (h2 > this.#target) this.#target = h2;
    this.#reloads++;
    this.#histories.forgetAll();
    this.#log.info("replica state loaded", { head: h2 });
    if (moved) {
      const r = await this.#db.revision(h2);
      if (r !== undefined) this.#emit(r);
    }
  }

  /**
   * One entity version over a state: kept only if newer than the entry there, so a version a
   * listing already reflects is skipped and applying (h1, h2] after listings taken in between ends
   * at the state of h2.
   */
  #apply(state: Map<EntityKind, Map<string, AnyCurrent>>, v: EntityVersion): void {
    this.#histories.forget(v.kind, v.key);
    let m = state.get(v.kind);
    if (m === undefined) {
      m = new Map();
      state.set(v.kind, m);
    }
    const cur = m.get(v.key);
    if (cur !== undefined && cur.revision >= v.revision) return;
    if (v.doc === null) m.delete(v.key);
    // Frozen: the same object is handed to every reader until the entity changes, so readers may
    // keep what they derive from it by identity (aws-query/describe.ts).
    else m.set(v.key, { revision: v.revision, doc: Object.freeze(v.doc) as EntityTypes[EntityKind] });
    if (state === this.#state) this.#sorted.delete(v.kind);
  }

  #emit(r: Revision): void {
    for (const l of this.#listeners) l(r);
  }
}
