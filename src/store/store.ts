/**
 * The store is a journal (principle 1 of the design guide): every mutation appends one numbered
 * revision and the new version of each entity it touches. A delete appends a tombstone. The
 * current state is derived from the journal; nothing is ever updated in place or removed — except by
 * an explicit compaction (`compact`), which drops versions superseded at or before one revision
 * and keeps every revision row, so the hash chain still links and the state at that revision and
 * every later one stays readable.
 *
 * One interface, one folder per driver (sqlite/, postgres/), one conformance suite both run.
 */
import type { AgentStatus } from "../model/agent-protocol.js";
import type { GuardDecision } from "../model/guard.js";
import type { TicketEvent } from "../model/ticket.js";
import type { EntityKind, EntityTypes } from "../model/types.js";
import type { DocCodec } from "./secrets/codec.js";

/** Who made a change, from where, and why: recorded with every revision. */
export interface RevisionMeta {
  readonly principal: string;
  readonly sourceIp: string;
  readonly requestId: string;
  readonly action: string;
  readonly ticket?: string;
}

export interface Revision extends RevisionMeta {
  readonly number: number;
  readonly time: string;
  readonly prevHash: string;
  readonly hash: string;
}

export interface EntityVersion<K extends EntityKind = EntityKind> {
  readonly kind: K;
  readonly key: string;
  readonly revision: number;
  /** `null` is a tombstone: the entity was deleted at this revision. */
  readonly doc: EntityTypes[K] | null;
}

export interface Current<K extends EntityKind> {
  readonly revision: number;
  readonly doc: EntityTypes[K];
}

/** One entity whose committed document now is not the one it had at an earlier revision. */
export interface EntityDifference {
  readonly kind: EntityKind;
  readonly key: string;
  /** The document as of the earlier revision; undefined if the entity was absent (or deleted) then. */
  readonly past: EntityTypes[EntityKind] | undefined;
  /** The committed document now; undefined if absent now. */
  readonly now: EntityTypes[EntityKind] | undefined;
}

/**
 * The record a compaction leaves: through which revision superseded versions were removed, on
 * whose authority, and what the state at `through` was, so a verification can prove it intact.
 */
export interface CompactionRecord {
  /** Versions superseded at or before this revision were removed; the state at it is kept. */
  readonly through: number;
  readonly time: string;
  readonly principal: string;
  readonly sourceIp: string;
  readonly requestId: string;
  readonly ticket?: string;
  readonly versionsRemoved: number;
  /** The hash of revision `through` when it was compacted: the chain head the kept state belongs to. */
  readonly throughHash: string;
  /** `stateDigest` (journal.ts) of the state at `through`, taken before anything was removed. */
  readonly stateHash: string;
}

/**
 * One line of the audit log: a call to either API, allowed or not, or (aggregated) the failed
 * authentications of one source address in one minute. Append-only, like the journal.
 */
export interface AuditRecord {
  /** ISO 8601; for an aggregate of failed authentications, the start of its minute. */
  readonly time: string;
  /** The caller's ARN (`arn:aws:iam::ACCOUNT:user/NAME`), or `anonymous` when it did not authenticate. */
  readonly principal: string;
  readonly accessKeyId?: string;
  /** `elasticloadbalancing:CreateLoadBalancer`, `ballast:RestoreState`; `-` when unknown. */
  readonly action: string;
  /** The resource ARN asked for, or `*`. */
  readonly resource: string;
  readonly sourceIp: string;
  /** The request id; for an aggregate, the last one's. */
  readonly requestId: string;
  /** `allowed`, `denied` (AccessDenied), or the error code the call ended with. */
  readonly result: string;
  /** The change ticket (`x-ballast-ticket`) the call carried. */
  readonly ticket?: string;
  /** The reason of a break-glass call (`x-ballast-break-glass`): made without a ticket. */
  readonly breakGlass?: string;
  /** How many calls this line stands for: 1, or more for an aggregate of failed authentications. */
  readonly count: number;
}

/** A read of the audit log: newest first, every given field must match. */
export interface AuditFilter {
  readonly principal?: string;
  readonly action?: string;
  /** `allowed`, `denied`, or an error code. */
  readonly result?: string;
  /** ISO 8601: records at or after it. */
  readonly since?: string;
  /** Default 100, at most 10000. */
  readonly limit?: number;
  /** Records strictly older (by sequence) than this one, for paging. */
  readonly before?: number;
  /** Only break-glass calls. */
  readonly breakGlass?: boolean;
}

export interface StoredAuditRecord extends AuditRecord {
  /** The record's sequence number, increasing in the order of appending. */
  readonly id: number;
}
// --- journal epochs (ballast state repair, store/ops/repair-journal.ts) ---------------------------
/** The first revision of a new journal epoch: a whole state, as one revision of a fresh chain. */
export interface EpochStart {
  /** Its number: above every revision the old journal and the agents ever had. */
  readonly number: number;
  /** The hash it links to (the old journal's newest revision hash, kept in the evidence tables). */
  readonly anchor: string;
  readonly meta: RevisionMeta;
  /** Every entity of the repaired state. */
  readonly entities: readonly {
    readonly kind: EntityKind;
    readonly key: string;
    readonly doc: EntityTypes[EntityKind];
  }[];
}

export interface EpochResult {
  readonly revision: Revision;
  /** The tables the old journal's rows were moved into (evidence, never read by Ballast). */
  readonly evidence: readonly string[];
}
// --- end journal epochs ----------------------------------------------------------------------------

/** Counts of the journal's rows up to a revision (`Store.journalRows`). */
export interface JournalRows {
  readonly revisions: number;
  readonly versions: number;
}

/** The view a mutation has: reads see its own pending writes. */
export interface MutationTx {
  get<K extends EntityKind>(kind: K, key: string): Promise<EntityTypes[K] | undefined>;
  list<K extends EntityKind>(kind: K): Promise<readonly EntityTypes[K][]>;
  put<K extends EntityKind>(kind: K, key: string, doc: EntityTypes[K]): void;
  delete(kind: EntityKind, key: string): void;
  /**
   * Bulk read for point-in-time restore, in one query however large the state: every entity of
   * `kinds` whose committed document now is not byte for byte the one the journal holds for it as
   * of revision `at`. "Now" is the drivers' current state as stored — so an entity removed from it
   * behind the journal's back shows up too. Documents that differ only in key order are included
   * (the caller decides equality). Sees committed state only, not this mutation's own writes; a
   * commit by anyone after this read makes the mutation run again on fresh state.
   *
   * Optional to use and to implement: callers fall back to replaying the journal (`stateAt`) and
   * `list()`. Both bundled drivers implement it.
   */
  differencesFrom?(at: number, kinds: readonly EntityKind[]): Promise<readonly EntityDifference[]>;
}

export interface MutationResult<T> {
  /** The appended revision, or undefined when the mutation changed nothing. */
  readonly revision: Revision | undefined;
  readonly result: T;
}

/** Every current entity with its stored key, and the revision the state is at. */
export interface CurrentSnapshot {
  readonly head: number;
  readonly entries: readonly {
    readonly kind: EntityKind;
    readonly key: string;
    readonly current: Current<EntityKind>;
  }[];
}

export interface MutateOptions {
  /** Read and compare against the stored rows, not a replica's memory (see Store.mutate). */
  readonly readStored?: boolean;
}

export interface Store {
  /** A driver name for logs and metrics: "sqlite" or "postgres". */
  readonly driver: string;

  /**
   * How this store seals secret fields at rest, with its secret key (secrets/codec.ts); exports and
   * backups seal and MAC with the same key. Every read of the store returns plain documents.
   */
  readonly codec: DocCodec;

  /**
   * Runs `fn` and appends its writes as one revision, atomically. If another writer changed an
   * entity `fn` read before the commit, `fn` runs again on fresh state: no update is lost.
   * Writes that leave an entity as it was are dropped; if none remain, no revision is appended.
   * With `readStored`, "as it was" is what the database holds, never a cache of it: a repair of
   * rows removed behind the store's back (ops/repair-current.ts) writes back what a replica's
   * memory still has.
   */
  mutate<T>(
    meta: RevisionMeta,
    fn: (tx: MutationTx) => Promise<T>,
    opts?: MutateOptions,
  ): Promise<MutationResult<T>>;

  get<K extends EntityKind>(kind: K, key: string): Promise<Current<K> | undefined>;
  list<K extends EntityKind>(kind: K): Promise<readonly Current<K>[]>;
  /** How many entities of `kind` the current state holds (without reading them). */
  count(kind: EntityKind): Promise<number>;

  /** The number of the newest revision; 0 for an empty journal. */
  head(): Promise<number>;
  revision(number: number): Promise<Revision | undefined>;
  /** Revisions with from < number <= to, oldest first. */
  revisions(from: number, to?: number): Promise<readonly Revision[]>;
  /** Entity versions appended with from < revision <= to, oldest first. */
  changes(from: number, to?: number): Promise<readonly EntityVersion[]>;
  /** Every version of one entity, oldest first. */
  history(kind: EntityKind, key: string): Promise<readonly EntityVersion[]>;
  /**
   * The entity as it stood at a revision (undefined if absent or deleted then). A revision below
   * `compactedThrough()` is refused with a ValidationError: the journal no longer knows it.
   */
  getAt<K extends EntityKind>(kind: K, key: string, revision: number): Promise<Current<K> | undefined>;

  /**
   * Removes, in one transaction, every entity version at or before `through` that a newer version
   * at or before `through` supersedes, and every tombstone that is an entity's last version at or
   * before `through` with nothing after it. Revision rows stay; versions after `through` are
   * untouched; a CompactionRecord is kept. Returns undefined (and changes nothing) when the journal
   * is already compacted through `through`. Only the mechanics: retention and change-ticket rules
   * live in ops/compact.ts. `through` must be an existing revision (ValidationError otherwise).
   */
  compact(through: number, meta: RevisionMeta): Promise<CompactionRecord | undefined>;
  /** Every compaction made, oldest first. */
  compactions(): Promise<readonly CompactionRecord[]>;
  /** The revision the journal is compacted through; 0 when it never was. */
  compactedThrough(): Promise<number>;
  /**
   * How many journal rows there are up to revision `through`: revisions, and entity versions. A
   * state check that verified the journal up to `through` reads it again to see that nothing it
   * verified was deleted since, without walking it again (ops/verify.ts).
   */
  journalRows(through: number): Promise<JournalRows>;

  /**
   * Starts a new journal epoch, in one transaction under the journal's write lock: the rows of
   * `revisions`, `versions`, `compactions` and `current` are copied into evidence tables suffixed
   * `_epoch<k>` and removed (the append-only guard is lifted for that transaction only), and
   * `start.entities` become revision `start.number`, the first of a fresh chain linked to
   * `start.anchor`, with `current` rewritten to them. Only `ballast state repair` calls it.
   * Optional: a driver without it cannot be repaired in place.
   */
  startEpoch?(start: EpochStart): Promise<EpochResult>;

  /**
   * Observed state, beside the desired state and outside the journal: the latest status each
   * agent reported (nodes, addresses, instance health). Overwritten, never journaled.
   */
  putAgentStatus(status: AgentStatus): Promise<void>;
  agentStatuses(): Promise<readonly AgentStatus[]>;

  /** Appends audit records, in one transaction, in order. Outside the journal; never changed or removed. */
  appendAudit(records: readonly AuditRecord[]): Promise<void>;
  /** Audit records matching `filter`, newest first. */
  audit(filter?: AuditFilter): Promise<readonly StoredAuditRecord[]>;

  /** Appends one event of a change ticket (model/ticket.ts). Outside the journal; never changed or removed. */
  appendTicketEvent(event: TicketEvent): Promise<void>;
  /** The events of one ticket, or of every ticket, oldest first. */
  ticketEvents(ticket?: string): Promise<readonly TicketEvent[]>;

  /** Appends an operator's decision on a guard hold. Outside the journal; never changed or removed. */
  appendGuardDecision(decision: GuardDecision): Promise<void>;
  /** Every decision on a guard hold, oldest first. */
  guardDecisions(): Promise<readonly GuardDecision[]>;

  /**
   * Optional: the whole current state and the revision it is at, read in one consistent snapshot.
   * Verification (ops/verify.ts) uses it where it can; without it, it lists each kind and checks the
   * head held still meanwhile — which, on a journal taking a write every millisecond, it rarely does.
   */
  currentSnapshot?(): Promise<CurrentSnapshot>;

  /** Called after every commit made through this store object. Returns an unsubscribe. */
  onCommit(listener: (revision: Revision) => void): () => void;

  close(): Promise<void>;
}
