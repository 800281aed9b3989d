/**
 * The two-person rule at the API edge (principle 5), after authentication and the IAM policy
 * check: a call that does maintenance — the caller's API says which (admin/maintenance.ts,
 * auth/bulk.ts) — goes ahead only with an approved change ticket that covers it
 * (`x-ballast-ticket`), or with break-glass (`x-ballast-break-glass: <reason>`). A ticket adds
 * to a policy, never replaces one: the policy check has already allowed the action.
 *
 * Each use of a ticket is an event on the ticket (counted in its `uses`); a break-glass call is
 * logged as a warning, counted (`ballast_break_glass_total`) and marked on its audit record, which
 * is what the break-glass alarm reads.
 */
import type { IncomingHttpHeaders } from "node:http";
import { BallastError } from "../../model/errors.js";
import {
  foldTicket,
  isTicketId,
  type MaintenanceUse,
  parseBreakGlass,
  ticketRefusal,
  ticketRequired,
} from "../../model/ticket.js";
import { MemoryRemovalLedger, type RemovalLedger } from "../../store/removal-ledger.js";
import type { Store } from "../../store/store.js";
import { LabelledCounter } from "../../util/counters.js";
import type { Logger } from "../../util/logger.js";
import { BulkWindow, DEFAULT_BULK_THRESHOLD } from "./bulk.js";
import { headerValue } from "./sigv4-canonical.js";

export const TICKET_HEADER = "x-ballast-ticket";
export const BREAK_GLASS_HEADER = "x-ballast-break-glass";
export const BREAK_GLASS_METRIC = "ballast_break_glass_total";
export const TICKET_USES_METRIC = "ballast_change_ticket_uses_total";
export const TICKET_REFUSALS_METRIC = "ballast_change_ticket_refusals_total";

/** How a maintenance call was admitted. */
export interface Admission {
  readonly ticket?: string;
  readonly breakGlass?: string;
}

export interface ChangeControlOptions {
  readonly store: Store;
  readonly logger: Logger;
  readonly now?: () => Date;
  /** More removals than this by one principal within a minute on the ELB API need a ticket (default 10). */
  readonly bulkThreshold?: number;
  /** Where removals are counted: shared by replicas on PostgreSQL (default: this process's memory). */
  readonly removals?: RemovalLedger;
}

export class ChangeControl {
  readonly #store: Store;
  readonly #logger: Logger;
  readonly #now: () => Date;
  readonly breakGlassCounter = new LabelledCounter(
    BREAK_GLASS_METRIC,
    "Maintenance calls made with break-glass instead of an approved change ticket, by action.",
    "action",
  );
  readonly ticketUses = new LabelledCounter(
    TICKET_USES_METRIC,
    "Maintenance calls admitted by an approved change ticket, by action.",
    "action",
  );
  readonly refusals = new LabelledCounter(
    TICKET_REFUSALS_METRIC,
    "Maintenance calls refused for want of a usable change ticket, by error code.",
    "code",
  );

  /** The ELB API's bulk removals of the last minute, per principal. */
  readonly bulk: BulkWindow;

  constructor(opts: ChangeControlOptions) {
    this.#store = opts.store;
    this.#logger = opts.logger.child({ component: "change-control" });
    const now = opts.now ?? (() => new Date());
    this.#now = now;
    this.bulk = new BulkWindow(
      opts.bulkThreshold ?? DEFAULT_BULK_THRESHOLD,
      opts.removals ?? new MemoryRemovalLedger(() => now().getTime()),
    );
  }

  /** The counters, for the control plane's /metrics. */
  counters(): LabelledCounter[] {
    return [this.breakGlassCounter, this.ticketUses, this.refusals];
  }

  /**
   * Admits `use` on the strength of the request's ticket or break-glass header, or throws the
   * refusal (ChangeTicketRequired, InvalidChangeTicket). `why` says what makes the call
   * maintenance, for the refusal's message.
   */
  async admit(
    use: MaintenanceUse,
    why: string,
    headers: IncomingHttpHeaders,
    requestId: string,
  ): Promise<Admission> {
    try {
      return await this.#admit(use, why, headers, requestId);
    } catch (e) {
      if (e instanceof BallastError) this.refusals.inc(e.code);
      throw e;
    }
  }

  async #admit(
    use: MaintenanceUse,
    why: string,
    headers: IncomingHttpHeaders,
    requestId: string,
  ): Promise<Admission> {
    const ticketId = headerValue(headers, TICKET_HEADER)?.trim();
    const glass = headerValue(headers, BREAK_GLASS_HEADER);
    if (ticketId !== undefined && ticketId !== "") {
      if (!isTicketId(ticketId))
        throw new BallastError(
          "InvalidChangeTicket",
          `${JSON.stringify(ticketId)} is not a change ticket id (tkt-<16 hex>)`,
        );
      const ticket = foldTicket(await this.#store.ticketEvents(ticketId), this.#now());
      if (ticket === undefined)
        throw new BallastError("InvalidChangeTicket", `Change ticket ${ticketId} does not exist`);
      const refusal = ticketRefusal(ticket, use);
      if (refusal) throw refusal;
      await this.#store.appendTicketEvent({
        kind: "used",
        ticket: ticketId,
        time: this.#now().toISOString(),
        principal: use.principal,
        action: use.operation,
        requestId,
      });
      this.ticketUses.inc(use.operation);
      this.#logger.info("maintenance call under change ticket", {
        ticket: ticketId,
        principal: use.principal,
        action: use.operation,
        requestId,
      });
      return { ticket: ticketId };
    }
    if (glass !== undefined) {
      const reason = parseBreakGlass(glass);
      this.breakGlassCounter.inc(use.operation);
      this.#logger.warn("BREAK-GLASS: maintenance call without a change ticket", {
        principal: use.principal,
        action: use.operation,
        reason,
        requestId,
      });
      return { breakGlass: reason };
    }
    throw ticketRequired(use, why);
  }
}
