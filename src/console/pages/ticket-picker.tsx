/** Choosing an approved change ticket for an operation, and opening one when there is none. */
import { useState } from "preact/hooks";
import { admin } from "../api";
import { useAction, useLoad } from "../hooks";
import type { Session } from "../session";
import type { Ticket } from "../types";
import { ErrorLine, time, words } from "../ui";

/** The approved, unexpired tickets that cover `operation`. */
export function useApprovedTickets(session: Session, operation: string, refresh: unknown) {
  return useLoad(
    async () => {
      const r = await admin<{ tickets: Ticket[] }>(session, "GET", "/tickets?state=approved");
      const now = Date.now();
      return r.tickets.filter(
        (t) =>
          t.operations.includes(operation) && (t.expiresAt === undefined || Date.parse(t.expiresAt) > now),
      );
    },
    [session, operation, refresh],
    5000,
  );
}

export function TicketSelect(props: {
  readonly id: string;
  readonly label: string;
  readonly tickets: readonly Ticket[];
  readonly value: string;
  readonly onChange: (v: string) => void;
}) {
  return (
    <label>
      {props.label}
      <select id={props.id} value={props.value} onChange={(e) => props.onChange(e.currentTarget.value)}>
        <option value="">— choose an approved ticket —</option>
        {props.tickets.map((t) => (
          <option key={t.id} value={t.id}>
            {t.id} ({t.requester}, approved by {t.decidedBy ?? "?"}, until {time(t.expiresAt)})
          </option>
        ))}
      </select>
    </label>
  );
}

/** Opens a change ticket for the given operations; the caller shows it once opened. */
export function OpenTicket(props: {
  readonly session: Session;
  readonly operations: readonly string[];
  readonly headingId: string;
  readonly heading: string;
  readonly onOpened: (t: Ticket) => void;
}) {
  const [reason, setReason] = useState("");
  const [lbs, setLbs] = useState("*");
  const [minutes, setMinutes] = useState("60");
  const action = useAction();
  const submit = (e: Event) => {
    e.preventDefault();
    void action.run(async () => {
      const r = await admin<{ ticket: Ticket }>(props.session, "POST", "/tickets", {
        operations: props.operations,
        loadBalancers: words(lbs),
        reason,
        durationMinutes: Number(minutes),
      });
      setReason("");
      props.onOpened(r.ticket);
    });
  };
  return (
    <form onSubmit={submit} aria-labelledby={props.headingId} class="panel">
      <h3 id={props.headingId}>{props.heading}</h3>
      <p class="muted">Operations: {props.operations.join(", ")}. Another principal must approve it.</p>
      <label>
        Reason
        <textarea
          name="reason"
          required
          maxLength={1024}
          value={reason}
          onInput={(e) => setReason(e.currentTarget.value)}
        />
      </label>
      <label>
        Load balancers (names or * wildcards)
        <input name="loadBalancers" value={lbs} onInput={(e) => setLbs(e.currentTarget.value)} />
      </label>
      <label>
        Duration (minutes, 1–1440)
        <input
          name="durationMinutes"
          type="number"
          min={1}
          max={1440}
          required
          value={minutes}
          onInput={(e) => setMinutes(e.currentTarget.value)}
        />
      </label>
      <button type="submit" disabled={action.busy}>
        Open ticket
      </button>
      <ErrorLine error={action.error} />
    </form>
  );
}

/**
 * Break-glass: the call goes without a ticket, with a reason, and raises an alarm every operator
 * sees (GET /admin/v1/alarms) — for when no second person can be reached.
 */
export function BreakGlass(props: { readonly reason: string; readonly onChange: (reason: string) => void }) {
  const [on, setOn] = useState(false);
  return (
    <div class="break-glass">
      <label class="check">
        <input
          type="checkbox"
          checked={on}
          onChange={(e) => {
            setOn(e.currentTarget.checked);
            if (!e.currentTarget.checked) props.onChange("");
          }}
        />
        Break glass (no ticket; raises an alarm)
      </label>
      {on && (
        <label>
          Break-glass reason
          <input
            name="breakGlassReason"
            required
            value={props.reason}
            onInput={(e) => props.onChange(e.currentTarget.value)}
          />
        </label>
      )}
    </div>
  );
}

/** The headers that carry a ticket or a break-glass reason, if either was given. */
export function authorityHeaders(ticketId: string, breakGlass: string): Record<string, string> | undefined {
  if (breakGlass.trim() !== "") return { "x-ballast-break-glass": breakGlass.trim() };
  if (ticketId !== "") return { "x-ballast-ticket": ticketId };
  return undefined;
}
