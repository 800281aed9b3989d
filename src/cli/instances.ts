/** `ballast instances add|list|remove`: the instance inventory, through the signed admin API. */

import { requireArg, requireFlag } from "./args.js";
import { signedClient, withHint } from "./client.js";
import { parseCommand } from "./command.js";
import { ApiError } from "./errors.js";
import { printResult, table } from "./output.js";
import type { SignedClient } from "./signed-client.js";
import { INSTANCES } from "./specs/inventory.js";

interface Instance {
  readonly instanceId: string;
  readonly address: string;
  readonly zone: string;
}

export async function instancesCommand(argv: string[]): Promise<void> {
  const { values, positionals, verb } = parseCommand(INSTANCES, argv);
  const [id] = positionals;
  const client = await signedClient(values);
  const path = (): string => `/admin/v1/instances/${encodeURIComponent(requireArg(id, "an instance id"))}`;
  if (verb === "add") {
    const body = { address: requireFlag(values.address, "address"), zone: requireFlag(values.zone, "zone") };
    const r = await client.json<{ instance: Instance }>("PUT", path(), body).catch(async (e: unknown) => {
      throw await withZoneHint(client, e);
    });
    printResult(
      values.json,
      r,
      () => `instance ${r.instance.instanceId}: ${r.instance.address} in ${r.instance.zone}`,
    );
  } else if (verb === "remove") {
    const r = await client.json<{ deleted: string }>("DELETE", path()).catch((e: unknown) => {
      throw withHint(e, "NotFound", "'ballast instances list' shows the inventory");
    });
    printResult(values.json, r, () => `removed instance ${r.deleted}`);
  } else {
    const r = await client.json<{ instances: Instance[] }>("GET", "/admin/v1/instances");
    printResult(values.json, r, () =>
      r.instances.length === 0
        ? "no instances in the inventory; add one with 'ballast instances add ID --address ADDR --zone ZONE'"
        : table(
            ["INSTANCE", "ADDRESS", "ZONE"],
            r.instances.map((i) => [i.instanceId, i.address, i.zone]),
          ),
    );
  }
}

/** A bad zone: say which zones the agents serve. */
async function withZoneHint(client: SignedClient, e: unknown): Promise<unknown> {
  if (!(e instanceof ApiError) || !/zone/i.test(e.message)) return e;
  const zones = await client
    .json<{ agents: { zone: string }[] }>("GET", "/admin/v1/agents")
    .then((r) => [...new Set(r.agents.map((a) => a.zone))].sort())
    .catch(() => []);
  return new ApiError(
    e.code,
    e.message,
    e.status,
    zones.length > 0 ? `the agents serve ${zones.join(", ")}` : "a zone is a region and a letter: us-east-1a",
  );
}

/** Where the other commands have long found it. */
export { credentials } from "./client.js";
