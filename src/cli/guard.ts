/**
 * `ballast alarms` and `ballast guard holds|release ZONE|discard ZONE`: the controller's safety
 * workflows — the last check of the stored state and the changes the blast-radius guard holds —
 * through the signed admin API.
 */
import {
  BREAK_GLASS_ALARM_HOURS,
  type BreakGlassAlarm,
  type FleetAlarm,
  type GuardHold,
  type StateCheck,
} from "../model/guard.js";
import type { ReadOnlyIncident } from "../model/read-only.js";
import { requireArg } from "./args.js";
import { signedClient as client, withHint } from "./client.js";
import { parseCommand } from "./command.js";
import { answerJson } from "./signed-client.js";
import { ALARMS, GUARD } from "./specs/safety.js";

export async function alarmsCommand(argv: string[]): Promise<void> {
  const { values } = parseCommand(ALARMS, argv);
  const r = answerJson<{
    state: StateCheck | null;
    holds: GuardHold[];
    fleet?: FleetAlarm[];
    breakGlass?: BreakGlassAlarm[];
    readOnly?: ReadOnlyIncident | null;
  }>("alarms", await (await client(values)).send("GET", "/admin/v1/alarms"));
  if (r === undefined) return;
  if (values.json) {
    console.log(JSON.stringify(r, null, 2));
    return;
  }
  const s = r.state;
  if (s === null) console.log("state: not checked yet");
  else {
    console.log(
      `state: ${s.verified ? "verified" : "UNVERIFIED"} at revision ${s.head} (checked ${s.checkedAt}; ${s.repairs} automatic repair(s) since start)`,
    );
    for (const a of s.alarms) console.log(`  alarm ${a.kind}: ${a.message}`);
  }
  if (r.readOnly)
    console.log(
      `READ-ONLY since ${r.readOnly.since}: ${r.readOnly.detail}; changes are refused until 'ballast state repair' (docs/OPERATIONS.md)`,
    );
  const fleet = r.fleet ?? [];
  for (const a of fleet) console.log(`ALARM ${a.kind} since ${a.since}: ${a.message}`);
  const glass = r.breakGlass ?? [];
  for (const g of glass)
    console.log(
      `BREAK-GLASS ${g.time}: ${g.principal} ran ${g.action} without a change ticket: "${g.reason}" (request ${g.requestId}; shown for ${BREAK_GLASS_ALARM_HOURS} h)`,
    );
  printHolds(r.holds);
  if ((s !== null && !s.verified) || r.holds.length > 0 || r.readOnly || fleet.length > 0 || glass.length > 0)
    process.exitCode = 1;
}

export async function guardCommand(argv: string[]): Promise<void> {
  const { values, positionals, verb } = parseCommand(GUARD, argv);
  const [zone] = positionals;
  const c = await client(values);
  if (verb === "holds") {
    const r = answerJson<{ holds: GuardHold[] }>("guard holds", await c.send("GET", "/admin/v1/guard/holds"));
    if (r === undefined) return;
    if (values.json) console.log(JSON.stringify(r.holds, null, 2));
    else printHolds(r.holds);
    return;
  }
  if (verb === "release" || verb === "discard") {
    const path = `/admin/v1/guard/holds/${encodeURIComponent(requireArg(zone, "a zone"))}/${verb}`;
    const r = await c.json<Record<string, GuardHold>>("POST", path).catch((e: unknown) => {
      throw withHint(e, "NotFound", "'ballast guard holds' lists the held changes");
    });
    const hold = r[verb === "release" ? "released" : "discarded"];
    if (values.json) console.log(JSON.stringify(hold, null, 2));
    else if (hold !== undefined)
      console.log(
        verb === "release"
          ? `released: zone ${hold.zone} goes to revision ${hold.toRevision} (${hold.verdict.removedLoadBalancers} load balancer(s) removed)`
          : `discarded: zone ${hold.zone} keeps what it runs; the removals up to revision ${hold.toRevision} never reach its agents`,
      );
  }
}

function printHolds(holds: readonly GuardHold[]): void {
  if (holds.length === 0) {
    console.log("held changes: none");
    return;
  }
  console.log("held changes:");
  for (const h of holds) {
    console.log(
      `  zone ${h.zone}: revision ${h.fromRevision} → ${h.toRevision}, held since ${h.since}; removes ${h.verdict.removedLoadBalancers} load balancer(s), ${h.verdict.removedListeners} listener(s), ${h.verdict.removedBackends} back end(s)`,
    );
    for (const reason of h.verdict.reasons) console.log(`    ${reason}`);
  }
}
