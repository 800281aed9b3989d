/**
 * `ballast alarms` and `ballast guard holds|release ZONE|discard ZONE`: the controller's safety
 * workflows — the last check of the stored state and the changes the blast-radius guard holds —
 * through the signed admin API.
 */
import { parseArgs } from "node:util";
import type { FleetAlarm, GuardHold, StateCheck } from "../model/guard.js";
import type { ReadOnlyIncident } from "../model/read-only.js";
import { UsageError } from "./args.js";
import { credentials } from "./instances.js";
import { answerJson, SignedClient } from "./signed-client.js";

const GUARD_USAGE = "usage: ballast guard holds | release ZONE | discard ZONE [--json]";

const OPTIONS = {
  json: { type: "boolean", default: false },
  endpoint: { type: "string", default: "http://127.0.0.1:9700" },
  region: { type: "string", default: "us-east-1" },
  "data-dir": { type: "string", default: "./data" },
} as const;

async function client(values: {
  endpoint: string;
  region: string;
  "data-dir": string;
}): Promise<SignedClient> {
  return new SignedClient(values.endpoint, await credentials(values["data-dir"]), values.region);
}

export async function alarmsCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: OPTIONS });
  const r = answerJson<{
    state: StateCheck | null;
    holds: GuardHold[];
    fleet?: FleetAlarm[];
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
  printHolds(r.holds);
  if ((s !== null && !s.verified) || r.holds.length > 0 || r.readOnly || fleet.length > 0)
    process.exitCode = 1;
}

export async function guardCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true });
  const [verb, zone] = positionals;
  const c = await client(values);
  if (verb === "holds") {
    const r = answerJson<{ holds: GuardHold[] }>("guard holds", await c.send("GET", "/admin/v1/guard/holds"));
    if (r === undefined) return;
    if (values.json) console.log(JSON.stringify(r.holds, null, 2));
    else printHolds(r.holds);
    return;
  }
  if ((verb === "release" || verb === "discard") && zone !== undefined) {
    const path = `/admin/v1/guard/holds/${encodeURIComponent(zone)}/${verb}`;
    const r = answerJson<Record<string, GuardHold>>(`guard ${verb}`, await c.send("POST", path));
    if (r === undefined) return;
    const hold = r[verb === "release" ? "released" : "discarded"];
    if (values.json) console.log(JSON.stringify(hold, null, 2));
    else if (hold !== undefined)
      console.log(
        verb === "release"
          ? `released: zone ${hold.zone} goes to revision ${hold.toRevision} (${hold.verdict.removedLoadBalancers} load balancer(s) removed)`
          : `discarded: zone ${hold.zone} keeps what it runs; the removals up to revision ${hold.toRevision} never reach its agents`,
      );
    return;
  }
  throw new UsageError(GUARD_USAGE);
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
