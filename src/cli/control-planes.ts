/** `ballast control-planes [--json]`: the control-plane replicas and the active controller. */
import { parseArgs } from "node:util";
import type { ControlPlanesView } from "../model/leadership.js";
import { credentials } from "./instances.js";
import { answerJson, SignedClient } from "./signed-client.js";

export async function controlPlanesCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      json: { type: "boolean", default: false },
      endpoint: { type: "string", default: "http://127.0.0.1:9700" },
      region: { type: "string", default: "us-east-1" },
      "data-dir": { type: "string", default: "./data" },
    },
  });
  const client = new SignedClient(values.endpoint, await credentials(values["data-dir"]), values.region);
  const view = answerJson<ControlPlanesView>(
    "control-planes",
    await client.send("GET", "/admin/v1/control-planes"),
  );
  if (view === undefined) return;
  if (values.json) {
    console.log(JSON.stringify(view, null, 2));
    return;
  }
  const rows = [
    ["REPLICA", "ROLE", "CONNECTED SINCE", "ADDRESS"],
    ...view.replicas.map((r) => [
      r.id === view.self.id ? `${r.id} (this one)` : r.id,
      r.active ? "active controller" : "standby",
      r.connectedSince,
      r.address ?? "-",
    ]),
  ];
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  for (const r of rows)
    console.log(r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join("  "));
  if (!view.replicas.some((r) => r.active)) {
    console.log("no replica holds the controller lock: no workflow runs (state checks, repairs, backups)");
    process.exitCode = 1;
  }
}
