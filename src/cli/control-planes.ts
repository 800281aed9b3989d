/** `ballast control-planes [--json]`: the control-plane replicas and the active controller. */
import type { ControlPlanesView } from "../model/leadership.js";
import { signedClient } from "./client.js";
import { parseCommand } from "./command.js";
import { table } from "./output.js";
import { answerJson } from "./signed-client.js";
import { CONTROL_PLANES } from "./specs/safety.js";

export async function controlPlanesCommand(argv: string[]): Promise<void> {
  const { values } = parseCommand(CONTROL_PLANES, argv);
  const client = await signedClient(values);
  const view = answerJson<ControlPlanesView>(
    "control-planes",
    await client.send("GET", "/admin/v1/control-planes"),
  );
  if (view === undefined) return;
  if (values.json) {
    console.log(JSON.stringify(view, null, 2));
    return;
  }
  const rows = view.replicas.map((r) => [
    r.id === view.self.id ? `${r.id} (this one)` : r.id,
    r.active ? "active controller" : "standby",
    r.connectedSince,
    r.address ?? "-",
  ]);
  console.log(table(["REPLICA", "ROLE", "CONNECTED SINCE", "ADDRESS"], rows));
  if (!view.replicas.some((r) => r.active)) {
    console.log("no replica holds the controller lock: no workflow runs (state checks, repairs, backups)");
    process.exitCode = 1;
  }
}
