/** Guard holds and alarms: what each hold keeps back, released or discarded with a ticket. */
import { useState } from "preact/hooks";
import { admin } from "../api";
import { useAction, useLoad } from "../hooks";
import type { Session } from "../session";
import type { GuardHold } from "../types";
import { ErrorLine, Loading, time } from "../ui";
import { authorityHeaders, BreakGlass, TicketSelect, useApprovedTickets } from "./ticket-picker";

interface Alarms {
  readonly state: {
    readonly verified: boolean;
    readonly checkedAt: string;
    readonly head: number;
    readonly alarms: readonly { kind: string; message: string }[];
    readonly repairs: number;
  } | null;
  readonly holds: readonly GuardHold[];
  readonly readOnly?: { since: string; alarm: string; detail: string };
  /** Calls made with break-glass instead of a ticket, in the last day. */
  readonly breakGlass?: readonly {
    time: string;
    principal: string;
    action: string;
    resource: string;
    reason: string;
    requestId: string;
  }[];
}

export function Holds(props: { readonly session: Session }) {
  const { session } = props;
  const [refresh, setRefresh] = useState(0);
  const alarms = useLoad(() => admin<Alarms>(session, "GET", "/alarms"), [session, refresh], 3000);
  const a = alarms.data;
  return (
    <>
      <section aria-labelledby="alarms-heading">
        <h2 id="alarms-heading">Alarms</h2>
        <ErrorLine error={alarms.error} />
        {a === undefined ? (
          alarms.error === undefined && <Loading what="alarms" />
        ) : (
          <>
            {a.readOnly !== undefined && (
              <p class="error" role="alert">
                Read-only mode since {time(a.readOnly.since)}: {a.readOnly.detail}
              </p>
            )}
            {a.state === null ? (
              <p class="muted">The state has not been checked yet.</p>
            ) : (
              <p>
                State {a.state.verified ? "verified" : "NOT verified"} at {time(a.state.checkedAt)} (head{" "}
                {a.state.head}, {a.state.repairs} automatic repairs).
              </p>
            )}
            {a.state !== null && a.state.alarms.length > 0 && (
              <ul class="alarms">
                {a.state.alarms.map((x) => (
                  <li key={x.kind + x.message}>
                    <strong>{x.kind}</strong>: {x.message}
                  </li>
                ))}
              </ul>
            )}
            {(a.breakGlass ?? []).length > 0 && (
              <>
                <p class="error" role="alert">
                  Break-glass calls in the last day (made without a change ticket):
                </p>
                <ul class="alarms">
                  {(a.breakGlass ?? []).map((b) => (
                    <li key={b.requestId}>
                      {time(b.time)} <span class="mono">{b.principal}</span> {b.action} on{" "}
                      <span class="mono">{b.resource}</span>: “{b.reason}”
                    </li>
                  ))}
                </ul>
              </>
            )}
            {a.holds.length > 0 && (
              <p class="error" role="alert">
                {a.holds.length} change{a.holds.length === 1 ? " is" : "s are"} held by the blast-radius
                guard.
              </p>
            )}
          </>
        )}
      </section>
      <section aria-labelledby="holds-heading">
        <h2 id="holds-heading">Guard holds</h2>
        {a !== undefined && a.holds.length === 0 && <p class="muted">No change is held.</p>}
        {a?.holds.map((h) => (
          <Hold key={h.zone} session={session} hold={h} onDecided={() => setRefresh((n) => n + 1)} />
        ))}
      </section>
    </>
  );
}

function Hold(props: {
  readonly session: Session;
  readonly hold: GuardHold;
  readonly onDecided: () => void;
}) {
  const { session, hold } = props;
  const diff = useLoad(
    () =>
      admin<{ lines: string[] }>(
        session,
        "GET",
        `/state/diff?from=${hold.fromRevision}&to=${hold.toRevision}`,
      ),
    [session, hold.fromRevision, hold.toRevision],
  );
  const [ticketId, setTicketId] = useState("");
  const [breakGlass, setBreakGlass] = useState("");
  const [verb, setVerb] = useState<"release" | "discard">("release");
  const operation = verb === "release" ? "ballast:ReleaseGuardHold" : "ballast:DiscardGuardHold";
  const tickets = useApprovedTickets(session, operation, verb);
  const action = useAction();
  const decide = (e: Event) => {
    e.preventDefault();
    void action.run(async () => {
      await admin(
        session,
        "POST",
        `/guard/holds/${encodeURIComponent(hold.zone)}/${verb}`,
        undefined,
        authorityHeaders(ticketId, breakGlass),
      );
      props.onDecided();
    });
  };
  const id = `hold-${hold.zone}`;
  return (
    <article class="panel hold" aria-labelledby={id} data-zone={hold.zone}>
      <h3 id={id}>Zone {hold.zone}</h3>
      <p>
        Held since {time(hold.since)}: revision {hold.fromRevision} → {hold.toRevision} removes{" "}
        {hold.verdict.removedLoadBalancers} load balancers, {hold.verdict.removedListeners} listeners,{" "}
        {hold.verdict.removedBackends} back ends.
      </p>
      <ul>
        {hold.verdict.reasons.map((r) => (
          <li key={r} class="reason">
            {r}
          </li>
        ))}
      </ul>
      <details>
        <summary>The change it holds back</summary>
        <ErrorLine error={diff.error} />
        <ul class="diff mono">
          {(diff.data?.lines ?? []).map((l) => (
            <li key={l}>{l}</li>
          ))}
        </ul>
      </details>
      <form onSubmit={decide} aria-label={`Decide on the hold in ${hold.zone}`}>
        <label>
          Decision
          <select value={verb} onChange={(e) => setVerb(e.currentTarget.value as "release" | "discard")}>
            <option value="release">release (send the change)</option>
            <option value="discard">discard (drop its removals)</option>
          </select>
        </label>
        <TicketSelect
          id={`${id}-ticket`}
          label={`Change ticket for ${operation}`}
          tickets={tickets.data ?? []}
          value={ticketId}
          onChange={setTicketId}
        />
        <BreakGlass reason={breakGlass} onChange={setBreakGlass} />
        <button type="submit" disabled={action.busy}>
          {verb === "release" ? "Release" : "Discard"} the hold in {hold.zone}
        </button>
        <ErrorLine error={action.error} />
      </form>
    </article>
  );
}
