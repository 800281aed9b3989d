/**
 * The records kept beside the journal in PostgreSQL — agents' statuses, the audit log, change
 * tickets' events and guard decisions: plain appends and reads, no journal lock, no revision.
 * They change for their own reasons (a new audit field, a new ticket event), not the journal's.
 */
import type pg from "pg";
import type { AgentStatus } from "../../model/agent-protocol.js";
import type { GuardDecision } from "../../model/guard.js";
import type { TicketEvent } from "../../model/ticket.js";
import { AUDIT_COLUMNS, type AuditRow, auditQuery, auditValues, toAuditRecord } from "../audit.js";
import {
  GUARD_DECISION_COLUMNS,
  type GuardDecisionRow,
  guardDecisionsQuery,
  guardDecisionValues,
  TICKET_EVENT_COLUMNS,
  type TicketEventRow,
  ticketEventsQuery,
  ticketEventValues,
  toGuardDecision,
  toTicketEvent,
} from "../decisions.js";
import type { AuditFilter, AuditRecord, StoredAuditRecord } from "../store.js";

export class PostgresRecords {
  readonly #pool: pg.Pool;
  /** The schema, quoted. */
  readonly #s: string;

  constructor(pool: pg.Pool, s: string) {
    this.#pool = pool;
    this.#s = s;
  }

  async putAgentStatus(status: AgentStatus): Promise<void> {
    await this.#pool.query(
      `INSERT INTO ${this.#s}.agent_status (agent_id, status) VALUES ($1, $2)
       ON CONFLICT (agent_id) DO UPDATE SET status = excluded.status`,
      [status.agentId, JSON.stringify(status)],
    );
  }

  async agentStatuses(): Promise<readonly AgentStatus[]> {
    const res = await this.#pool.query<{ status: string }>(
      `SELECT status FROM ${this.#s}.agent_status ORDER BY agent_id`,
    );
    return res.rows.map((r) => JSON.parse(r.status) as AgentStatus);
  }

  async appendAudit(records: readonly AuditRecord[]): Promise<void> {
    if (records.length === 0) return;
    // One statement, one commit, eleven array parameters however many records: the ids follow
    // the arrays' order (WITH ORDINALITY ... ORDER BY).
    const columns: (string | number | null)[][] = AUDIT_COLUMNS.map(() => []);
    for (const r of records)
      auditValues(r).forEach((v, i) => {
        columns[i]?.push(v);
      });
    const arrays = AUDIT_COLUMNS.map((c, i) => `$${i + 1}::${c === "count" ? "bigint" : "text"}[]`);
    await this.#pool.query(
      `INSERT INTO ${this.#s}.audit (${AUDIT_COLUMNS.join(", ")})
       SELECT ${AUDIT_COLUMNS.map((c) => `a.${c}`).join(", ")}
       FROM unnest(${arrays.join(", ")}) WITH ORDINALITY AS a(${AUDIT_COLUMNS.join(", ")}, n) ORDER BY n`,
      columns,
    );
  }

  async audit(filter: AuditFilter = {}): Promise<readonly StoredAuditRecord[]> {
    const { sql, params } = auditQuery(`${this.#s}.audit`, filter, (i) => `$${i}`);
    const res = await this.#pool.query<AuditRow>(sql, params);
    return res.rows.map(toAuditRecord);
  }

  async appendTicketEvent(event: TicketEvent): Promise<void> {
    await this.#pool.query(
      `INSERT INTO ${this.#s}.ticket_events (${TICKET_EVENT_COLUMNS.join(", ")}) VALUES ($1, $2, $3, $4, $5)`,
      ticketEventValues(event),
    );
  }

  async ticketEvents(ticket?: string): Promise<readonly TicketEvent[]> {
    const res = await this.#pool.query<TicketEventRow>(
      ticketEventsQuery(`${this.#s}.ticket_events`, ticket, "$1"),
      ticket === undefined ? [] : [ticket],
    );
    return res.rows.map(toTicketEvent);
  }

  async appendGuardDecision(decision: GuardDecision): Promise<void> {
    await this.#pool.query(
      `INSERT INTO ${this.#s}.guard_decisions (${GUARD_DECISION_COLUMNS.join(", ")}) VALUES (${GUARD_DECISION_COLUMNS.map((_, i) => `$${i + 1}`).join(", ")})`,
      guardDecisionValues(decision),
    );
  }

  async guardDecisions(): Promise<readonly GuardDecision[]> {
    const res = await this.#pool.query<GuardDecisionRow>(guardDecisionsQuery(`${this.#s}.guard_decisions`));
    return res.rows.map(toGuardDecision);
  }
}
