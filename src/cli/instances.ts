/** `ballast instances add|list|remove`: the instance inventory, through the signed admin API. */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { requireFlag, UsageError } from "./args.js";
import { type ClientCredentials, readCredentialsFile, SignedClient } from "./signed-client.js";

export async function instancesCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      address: { type: "string" },
      zone: { type: "string" },
      endpoint: { type: "string", default: "http://127.0.0.1:9700" },
      region: { type: "string", default: "us-east-1" },
      "data-dir": { type: "string", default: "./data" },
    },
  });
  const [verb, id] = positionals;
  const client = new SignedClient(values.endpoint, await credentials(values["data-dir"]), values.region);
  let res: { status: number; body: string };
  if (verb === "add") {
    const body = JSON.stringify({
      address: requireFlag(values.address, "address"),
      zone: requireFlag(values.zone, "zone"),
    });
    res = await client.send(
      "PUT",
      `/admin/v1/instances/${encodeURIComponent(requireId(id))}`,
      body,
      "application/json",
    );
  } else if (verb === "remove") {
    res = await client.send("DELETE", `/admin/v1/instances/${encodeURIComponent(requireId(id))}`);
  } else if (verb === "list") {
    res = await client.send("GET", "/admin/v1/instances");
  } else {
    throw new UsageError("usage: ballast instances add ID --address ADDR --zone ZONE | remove ID | list");
  }
  if (res.status >= 300) {
    console.error(res.body);
    process.exitCode = 1;
    return;
  }
  if (res.body) console.log(res.body);
}

function requireId(id: string | undefined): string {
  if (!id) throw new UsageError("an instance id is required");
  return id;
}

/** The caller's key: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, else the data dir's bootstrap file. */
export async function credentials(dataDir: string): Promise<ClientCredentials> {
  const id = process.env.AWS_ACCESS_KEY_ID;
  const secret = process.env.AWS_SECRET_ACCESS_KEY;
  if (id && secret) return { accessKeyId: id, secretAccessKey: secret };
  return readCredentialsFile(join(dataDir, "bootstrap-credentials"));
}
