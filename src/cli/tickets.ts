/**
 * `ballast tickets open|list|show|approve|reject|close`: change tickets, the two-person rule's
 * paperwork, through the signed admin API. One principal opens a ticket; a second approves it;
 * the first then passes it with `--ticket ID` to the maintenance command it was opened for.
 */
import type { ChangeTicket } from "../model/ticket.js";
import { signedClient } from "./client.js";
import { parseCommand } from "./command.js";
import { UsageError } from "./errors.js";
import { answerJson } from "./signed-client.js";
import { TICKETS } from "./specs/tickets.js";

export async function ticketsCommand(argv: string[]): Promise<void> {
  const { values, positionals, verb } = parseCommand(TICKETS, argv);
  const [id] = positionals;
  if (verb === "open" && (values.operation ?? []).length === 0)
    throw new UsageError("tickets open needs --operation OP (one or more)");
  if (verb === "open" && (values.reason ?? "").trim() === "")
    throw new UsageError("tickets open needs --reason TEXT");
  if (verb !== "open" && verb !== "list" && id === undefined)
    throw new UsageError(`tickets ${verb} needs a ticket id`);
  const client = await signedClient(values);
  const json = "application/json";
  const show = (t: ChangeTicket | undefined): void => {
    if (t === undefined) return;
    console.log(values.json ? JSON.stringify(t, null, 2) : ticketText(t));
  };
  if (verb === "open") {
    const operations = values.operation ?? [];
    let duration: number | undefined;
    if (values.duration !== undefined) {
      if (!/^\d+$/.test(values.duration))
        throw new UsageError("--duration is a whole number of minutes (1-1440)");
      duration = Number(values.duration);
    }
    const body = {
      operations,
      ...(values["load-balancer"] === undefined ? {} : { loadBalancers: values["load-balancer"] }),
      reason: values.reason,
      ...(duration === undefined ? {} : { durationMinutes: duration }),
    };
    const r = answerJson<{ ticket: ChangeTicket }>(
      "tickets open",
      await client.send("POST", "/admin/v1/tickets", JSON.stringify(body), json),
    );
    if (r === undefined) return;
    show(r.ticket);
    if (!values.json)
      console.log(
        `\nA second principal approves it with: ballast tickets approve ${r.ticket.id}\nthen run the change with --ticket ${r.ticket.id}`,
      );
    return;
  }
  if (verb === "list" && id === undefined) {
    const q = values.state === undefined ? "" : `?state=${encodeURIComponent(values.state)}`;
    const r = answerJson<{ tickets: ChangeTicket[] }>(
      "tickets list",
      await client.send("GET", `/admin/v1/tickets${q}`),
    );
    if (r === undefined) return;
    if (values.json) console.log(JSON.stringify(r.tickets, null, 2));
    else if (r.tickets.length === 0) console.log("no change tickets");
    else for (const t of r.tickets) console.log(oneLine(t));
    return;
  }
  if (id === undefined) throw new UsageError(`tickets ${verb} needs a ticket id`);
  const path = `/admin/v1/tickets/${encodeURIComponent(id)}`;
  if (verb === "show") {
    show(answerJson<{ ticket: ChangeTicket }>("tickets show", await client.send("GET", path))?.ticket);
    return;
  }
  if (verb === "approve" || verb === "reject" || verb === "close") {
    const body =
      verb !== "close" && values.comment !== undefined ? JSON.stringify({ comment: values.comment }) : "";
    const r = answerJson<{ ticket: ChangeTicket }>(
      `tickets ${verb}`,
      await client.send("POST", `${path}/${verb}`, body, body === "" ? undefined : json),
    );
    show(r?.ticket);
    return;
  }
  throw new UsageError(`tickets: unknown verb ${verb}`);
}

function oneLine(t: ChangeTicket): string {
  const until = t.expiresAt === undefined ? "" : ` until ${t.expiresAt}`;
  return `${t.id}  ${t.state.padEnd(8)}  ${t.requester}  ${t.operations.join(",")}  lb ${t.loadBalancers.join(",")}${until}  uses ${t.uses}  "${t.reason}"`;
}

function ticketText(t: ChangeTicket): string {
  const lines = [
    `ticket        ${t.id}`,
    `state         ${t.state}`,
    `requester     ${t.requester} (opened ${t.openedAt})`,
    `operations    ${t.operations.join(", ")}`,
    `load balancers ${t.loadBalancers.join(", ")} in ${t.region}`,
    `reason        ${t.reason}`,
    `duration      ${t.durationMinutes} minute(s)${t.expiresAt === undefined ? "" : `, expires ${t.expiresAt}`}`,
  ];
  if (t.decidedBy !== undefined)
    lines.push(
      `decided       ${t.state === "rejected" ? "rejected" : "approved"} by ${t.decidedBy} at ${t.decidedAt ?? "?"}${t.comment === undefined ? "" : `: ${t.comment}`}`,
    );
  lines.push(`uses          ${t.uses}`);
  return lines.join("\n");
}
