/** Change tickets: open, approve, reject, close (the requester can never approve their own). */
import { useState } from "preact/hooks";
import { admin } from "../api";
import { useAction, useLoad } from "../hooks";
import type { Session } from "../session";
import type { Ticket } from "../types";
import { ErrorLine, Loading, time } from "../ui";
import { OpenTicket } from "./ticket-picker";

const STATES = ["", "pending", "approved", "rejected", "expired", "closed"] as const;

export const TICKET_OPERATIONS = [
  "ballast:RestoreState",
  "ballast:ReleaseGuardHold",
  "ballast:DiscardGuardHold",
  "ballast:ImportState",
  "ballast:CompactJournal",
] as const;

export function Tickets(props: { readonly session: Session }) {
  const { session } = props;
  const [filter, setFilter] = useState("");
  const [refresh, setRefresh] = useState(0);
  const [ops, setOps] = useState<string[]>(["ballast:RestoreState"]);
  const list = useLoad(
    () => admin<{ tickets: Ticket[] }>(session, "GET", `/tickets${filter === "" ? "" : `?state=${filter}`}`),
    [session, filter, refresh],
    5000,
  );
  const action = useAction();
  const [comment, setComment] = useState("");
  const decide = (t: Ticket, verb: "approve" | "reject" | "close") =>
    void action.run(async () => {
      await admin(
        session,
        "POST",
        `/tickets/${t.id}/${verb}`,
        verb === "close" ? undefined : comment === "" ? {} : { comment },
      );
      setComment("");
      setRefresh((n) => n + 1);
    });
  return (
    <section aria-labelledby="tickets-heading">
      <h2 id="tickets-heading">Change tickets</h2>
      <label>
        Show
        <select value={filter} onChange={(e) => setFilter(e.currentTarget.value)}>
          {STATES.map((s) => (
            <option key={s} value={s}>
              {s === "" ? "all tickets" : s}
            </option>
          ))}
        </select>
      </label>
      <label>
        Comment for an approval or rejection
        <input name="comment" value={comment} onInput={(e) => setComment(e.currentTarget.value)} />
      </label>
      <ErrorLine error={list.error} />
      <ErrorLine error={action.error} />
      {list.data === undefined ? (
        list.error === undefined && <Loading what="tickets" />
      ) : list.data.tickets.length === 0 ? (
        <p class="muted">No tickets.</p>
      ) : (
        <div class="scroll">
          <table>
            <thead>
              <tr>
                <th scope="col">Ticket</th>
                <th scope="col">State</th>
                <th scope="col">Requester</th>
                <th scope="col">Operations</th>
                <th scope="col">Load balancers</th>
                <th scope="col">Reason</th>
                <th scope="col">Opened</th>
                <th scope="col">Decision</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {list.data.tickets.map((t) => (
                <tr key={t.id} data-ticket={t.id}>
                  <th scope="row" class="mono">
                    {t.id}
                  </th>
                  <td class={`ticket-state ${t.state}`}>{t.state}</td>
                  <td>{t.requester}</td>
                  <td>{t.operations.join(", ")}</td>
                  <td>{t.loadBalancers.join(", ")}</td>
                  <td>{t.reason}</td>
                  <td>{time(t.openedAt)}</td>
                  <td>
                    {t.decidedBy === undefined
                      ? "—"
                      : `${t.decidedBy} ${time(t.decidedAt)}${t.comment ? `: ${t.comment}` : ""}${
                          t.expiresAt ? `; until ${time(t.expiresAt)}` : ""
                        }; used ${t.uses}×`}
                  </td>
                  <td class="actions">
                    {t.state === "pending" && (
                      <>
                        <button type="button" disabled={action.busy} onClick={() => decide(t, "approve")}>
                          Approve {t.id}
                        </button>
                        <button type="button" disabled={action.busy} onClick={() => decide(t, "reject")}>
                          Reject {t.id}
                        </button>
                      </>
                    )}
                    {(t.state === "approved" || t.state === "pending") && (
                      <button type="button" disabled={action.busy} onClick={() => decide(t, "close")}>
                        Close {t.id}
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <fieldset>
        <legend>Operations for a new ticket</legend>
        {TICKET_OPERATIONS.map((op) => (
          <label key={op} class="check">
            <input
              type="checkbox"
              checked={ops.includes(op)}
              onChange={(e) => setOps(e.currentTarget.checked ? [...ops, op] : ops.filter((o) => o !== op))}
            />
            {op}
          </label>
        ))}
      </fieldset>
      <OpenTicket
        session={session}
        operations={ops}
        headingId="open-ticket-heading"
        heading="Open a change ticket"
        onOpened={() => setRefresh((n) => n + 1)}
      />
    </section>
  );
}
