/** The audit log, newest first, with the admin API's filters. */
import { useState } from "preact/hooks";
import { admin } from "../api";
import { useLoad } from "../hooks";
import type { Session } from "../session";
import { ErrorLine, Loading, time } from "../ui";

interface AuditRecord {
  readonly id: number;
  readonly time: string;
  readonly principal: string;
  readonly accessKeyId?: string;
  readonly action: string;
  readonly resource: string;
  readonly sourceIp: string;
  readonly result: string;
  readonly ticket?: string;
  readonly count: number;
}

export function Audit(props: { readonly session: Session }) {
  const { session } = props;
  const [form, setForm] = useState({ principal: "", action: "", result: "", since: "", limit: "50" });
  const [query, setQuery] = useState(form);
  const qs = new URLSearchParams(
    Object.entries(query).filter(([, v]) => v.trim() !== "") as [string, string][],
  ).toString();
  const records = useLoad(
    () => admin<{ records: AuditRecord[] }>(session, "GET", `/audit${qs === "" ? "" : `?${qs}`}`),
    [session, qs],
  );
  const field = (name: keyof typeof form, label: string, placeholder: string) => (
    <label>
      {label}
      <input
        name={name}
        placeholder={placeholder}
        value={form[name]}
        onInput={(e) => setForm({ ...form, [name]: e.currentTarget.value })}
      />
    </label>
  );
  return (
    <section aria-labelledby="audit-heading">
      <h2 id="audit-heading">Audit log</h2>
      <form
        class="panel inline"
        aria-label="Audit log filters"
        onSubmit={(e) => {
          e.preventDefault();
          setQuery({ ...form });
          records.reload();
        }}
      >
        {field("principal", "Principal", "user name, ARN or key id")}
        {field("action", "Action", "CreateLoadBalancer")}
        {field("result", "Result", "allowed, denied or an error code")}
        {field("since", "Since", "2026-01-01T00:00:00Z")}
        {field("limit", "Limit", "50")}
        <button type="submit">Filter</button>
      </form>
      <ErrorLine error={records.error} />
      {records.data === undefined ? (
        records.error === undefined && <Loading what="the audit log" />
      ) : records.data.records.length === 0 ? (
        <p class="muted">No records match.</p>
      ) : (
        <div class="scroll">
          <table>
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Principal</th>
                <th scope="col">Action</th>
                <th scope="col">Resource</th>
                <th scope="col">Result</th>
                <th scope="col">Ticket</th>
                <th scope="col">From</th>
              </tr>
            </thead>
            <tbody>
              {records.data.records.map((r) => (
                <tr key={r.id} data-audit={r.id}>
                  <td>{time(r.time)}</td>
                  <td class="mono">{r.principal}</td>
                  <td>{r.action}</td>
                  <td class="mono">{r.resource}</td>
                  <td class={r.result === "allowed" ? "" : "out-of-service"}>
                    {r.result}
                    {r.count > 1 ? ` (${r.count}×)` : ""}
                  </td>
                  <td class="mono">{r.ticket ?? ""}</td>
                  <td class="mono">{r.sourceIp}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
