/**
 * State: the journal's revisions (who, what, when), the difference between any two, and a restore
 * that goes through the change-ticket flow (open a ticket for ballast:RestoreState; once another
 * principal approved it, restore with it).
 */
import { useState } from "preact/hooks";
import { admin, adminStream, type ProgressLine } from "../api";
import { useAction, useLoad } from "../hooks";
import type { Session } from "../session";
import type { RevisionEntry, Ticket } from "../types";
import { ErrorLine, Loading, time, words } from "../ui";
import { authorityHeaders, BreakGlass, OpenTicket, TicketSelect, useApprovedTickets } from "./ticket-picker";

interface History {
  readonly head: number;
  readonly revisions: readonly RevisionEntry[];
  readonly next?: number;
}

export function StatePage(props: { readonly session: Session }) {
  const { session } = props;
  const [refresh, setRefresh] = useState(0);
  const history = useLoad(
    () => admin<History>(session, "GET", "/state/history?limit=100"),
    [session, refresh],
    10_000,
  );
  const [from, setFrom] = useState<number | undefined>(undefined);
  const [to, setTo] = useState<number | undefined>(undefined);
  const h = history.data;
  return (
    <section>
      <h1>State</h1>
      <ErrorLine error={history.error} />
      {h === undefined ? (
        history.error === undefined && <Loading what="the revision history" />
      ) : (
        <>
          <p>
            Head: revision <strong>{h.head}</strong>. Pick two revisions to compare; restore any of them.
          </p>
          <div class="scroll">
            <table>
              <caption>Revision timeline (newest first)</caption>
              <thead>
                <tr>
                  <th scope="col">Revision</th>
                  <th scope="col">Time</th>
                  <th scope="col">Who</th>
                  <th scope="col">What</th>
                  <th scope="col">Ticket</th>
                  <th scope="col">From</th>
                  <th scope="col">Compare from</th>
                  <th scope="col">Compare to</th>
                </tr>
              </thead>
              <tbody>
                {h.revisions.map((r) => (
                  <tr key={r.number} data-revision={r.number}>
                    <th scope="row">{r.number}</th>
                    <td>{time(r.time)}</td>
                    <td>{r.principal}</td>
                    <td>{r.action}</td>
                    <td class="mono">{r.ticket ?? ""}</td>
                    <td class="mono">{r.sourceIp}</td>
                    <td>
                      <input
                        type="radio"
                        name="diff-from"
                        aria-label={`Compare from revision ${r.number}`}
                        checked={from === r.number}
                        onChange={() => setFrom(r.number)}
                      />
                    </td>
                    <td>
                      <input
                        type="radio"
                        name="diff-to"
                        aria-label={`Compare to revision ${r.number}`}
                        checked={to === r.number}
                        onChange={() => setTo(r.number)}
                      />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Diff session={session} from={from} to={to} />
          <Restore session={session} head={h.head} onRestored={() => setRefresh((n) => n + 1)} />
        </>
      )}
    </section>
  );
}

function Diff(props: { readonly session: Session; readonly from?: number; readonly to?: number }) {
  const { session, from, to } = props;
  const diff = useLoad(
    async () =>
      from === undefined || to === undefined
        ? undefined
        : admin<{ from: number; to: number; lines: string[] }>(
            session,
            "GET",
            `/state/diff?from=${from}&to=${to}`,
          ),
    [session, from, to],
  );
  return (
    <section aria-labelledby="diff-heading">
      <h2 id="diff-heading">Difference</h2>
      {from === undefined || to === undefined ? (
        <p class="muted">Choose a “from” and a “to” revision above.</p>
      ) : (
        <>
          <ErrorLine error={diff.error} />
          {diff.data !== undefined && (
            <>
              <p>
                From revision {diff.data.from} to revision {diff.data.to}: {diff.data.lines.length} change
                {diff.data.lines.length === 1 ? "" : "s"}.
              </p>
              <ul class="diff mono">
                {diff.data.lines.map((l) => (
                  <li key={l}>{l}</li>
                ))}
              </ul>
            </>
          )}
        </>
      )}
    </section>
  );
}

function Restore(props: {
  readonly session: Session;
  readonly head: number;
  readonly onRestored: () => void;
}) {
  const { session } = props;
  const [target, setTarget] = useState("");
  const [ticketId, setTicketId] = useState("");
  const [lbs, setLbs] = useState("");
  const [breakGlass, setBreakGlass] = useState("");
  const [progress, setProgress] = useState<ProgressLine | undefined>(undefined);
  const [opened, setOpened] = useState<Ticket | undefined>(undefined);
  const [result, setResult] = useState<{ lines: string[]; warnings: string[]; revision: number | null }>();
  const tickets = useApprovedTickets(session, "ballast:RestoreState", opened?.id);
  const action = useAction();
  const submit = (e: Event) => {
    e.preventDefault();
    setResult(undefined);
    void action.run(async () => {
      setProgress(undefined);
      const r = await adminStream<{
        lines: string[];
        warnings: string[];
        revision: { number: number } | null;
      }>(
        session,
        "/state/restore",
        { to: Number(target), ...(words(lbs).length === 0 ? {} : { loadBalancers: words(lbs) }) },
        setProgress,
        authorityHeaders(ticketId, breakGlass),
      );
      setResult({ lines: r.lines, warnings: r.warnings, revision: r.revision?.number ?? null });
      props.onRestored();
    });
  };
  return (
    <section aria-labelledby="restore-heading">
      <h2 id="restore-heading">Restore</h2>
      <p>
        A restore is a new revision (it can itself be undone) and needs a change ticket for{" "}
        <span class="mono">ballast:RestoreState</span> approved by another principal.
      </p>
      <OpenTicket
        session={session}
        operations={["ballast:RestoreState"]}
        headingId="restore-ticket-heading"
        heading="1. Open a restore ticket"
        onOpened={setOpened}
      />
      {opened !== undefined && (
        <p role="status">
          Ticket <span class="mono ticket-id">{opened.id}</span> is {opened.state}: ask another principal to
          approve it on the Safety page.
        </p>
      )}
      <form onSubmit={submit} aria-labelledby="restore-run-heading" class="panel">
        <h3 id="restore-run-heading">2. Restore with an approved ticket</h3>
        <label>
          Revision to restore (0–{props.head})
          <input
            name="to"
            type="number"
            min={0}
            max={props.head}
            required
            value={target}
            onInput={(e) => setTarget(e.currentTarget.value)}
          />
        </label>
        <label>
          Only these load balancers (optional; empty restores everything)
          <input name="loadBalancers" value={lbs} onInput={(e) => setLbs(e.currentTarget.value)} />
        </label>
        <TicketSelect
          id="restore-ticket"
          label="Change ticket"
          tickets={tickets.data ?? []}
          value={ticketId}
          onChange={setTicketId}
        />
        <ErrorLine error={tickets.error} />
        <BreakGlass reason={breakGlass} onChange={setBreakGlass} />
        <button type="submit" disabled={action.busy}>
          Restore
        </button>
        {action.busy && (
          <p role="status" aria-live="polite">
            {progress === undefined
              ? "Restoring…"
              : `Restoring: ${progress.phase}${progress.total > 0 ? ` ${progress.done} of ${progress.total}` : ""} (${(progress.elapsedMs / 1000).toFixed(1)} s)`}
          </p>
        )}
        <ErrorLine error={action.error} />
      </form>
      {result !== undefined && (
        <div role="status" class="panel">
          <p>
            {result.revision === null
              ? "Nothing to restore: the state already matches."
              : `Restored as revision ${result.revision}.`}
          </p>
          <ul class="diff mono">
            {result.lines.map((l) => (
              <li key={l}>{l}</li>
            ))}
          </ul>
          {result.warnings.length > 0 && (
            <ul>
              {result.warnings.map((w) => (
                <li key={w}>{w}</li>
              ))}
            </ul>
          )}
        </div>
      )}
    </section>
  );
}
