/**
 * What a replica answers straight from the database rather than from its memory: the journal's
 * history, compactions, agents' statuses, the audit log, change tickets and guard decisions —
 * rows every replica shares, read when asked (ReplicaStore keeps only the current state in memory).
 */
import type { AgentStatus } from "../../model/agent-protocol.js";
import type { GuardDecision } from "../../model/guard.js";
import type { TicketEvent } from "../../model/ticket.js";
import type { EntityKind } from "../../model/types.js";
import type {
  AuditFilter,
  AuditRecord,
  CompactionRecord,
  Current,
  EntityVersion,
  JournalRows,
  Revision,
  RevisionMeta,
  StoredAuditRecord,
} from "../store.js";
import type { PostgresStore } from "./postgres-store.js";

export abstract class DatabasePassThrough {
  protected readonly db: PostgresStore;

  protected constructor(db: PostgresStore) {
    this.db = db;
  }

  revision(number: number): Promise<Revision | undefined> {
    return this.db.revision(number);
  }
  revisions(from: number, to?: number): Promise<readonly Revision[]> {
    return this.db.revisions(from, to);
  }
  changes(from: number, to?: number): Promise<readonly EntityVersion[]> {
    return this.db.changes(from, to);
  }
  history(kind: EntityKind, key: string): Promise<readonly EntityVersion[]> {
    return this.db.history(kind, key);
  }
  getAt<K extends EntityKind>(kind: K, key: string, revision: number): Promise<Current<K> | undefined> {
    return this.db.getAt(kind, key, revision);
  }
  compact(through: number, meta: RevisionMeta): Promise<CompactionRecord | undefined> {
    return this.db.compact(through, meta);
  }
  compactions(): Promise<readonly CompactionRecord[]> {
    return this.db.compactions();
  }
  compactedThrough(): Promise<number> {
    return this.db.compactedThrough();
  }
  journalRows(through: number): Promise<JournalRows> {
    return this.db.journalRows(through);
  }
  putAgentStatus(status: AgentStatus): Promise<void> {
    return this.db.putAgentStatus(status);
  }
  agentStatuses(): Promise<readonly AgentStatus[]> {
    return this.db.agentStatuses();
  }
  appendAudit(records: readonly AuditRecord[]): Promise<void> {
    return this.db.appendAudit(records);
  }
  audit(filter?: AuditFilter): Promise<readonly StoredAuditRecord[]> {
    return this.db.audit(filter);
  }
  // Tickets and guard decisions: append-only rows every replica reads from the database.
  appendTicketEvent(event: TicketEvent): Promise<void> {
    return this.db.appendTicketEvent(event);
  }
  ticketEvents(ticket?: string): Promise<readonly TicketEvent[]> {
    return this.db.ticketEvents(ticket);
  }
  appendGuardDecision(decision: GuardDecision): Promise<void> {
    return this.db.appendGuardDecision(decision);
  }
  guardDecisions(): Promise<readonly GuardDecision[]> {
    return this.db.guardDecisions();
  }
}
