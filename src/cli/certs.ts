/** `ballast certs upload|list|delete`: the certificate store, through the signed admin API. */
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { requireFlag, UsageError } from "./args.js";
import { credentials } from "./instances.js";
import { SignedClient } from "./signed-client.js";

const USAGE =
  "usage: ballast certs upload NAME --cert FILE --key FILE [--chain FILE] [--arn ARN] | list | delete NAME";

export async function certsCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      cert: { type: "string" },
      key: { type: "string" },
      chain: { type: "string" },
      arn: { type: "string" },
      endpoint: { type: "string", default: "http://127.0.0.1:9700" },
      region: { type: "string", default: "us-east-1" },
      "data-dir": { type: "string", default: "./data" },
    },
  });
  const [verb, name] = positionals;
  const client = new SignedClient(values.endpoint, await credentials(values["data-dir"]), values.region);
  let res: { status: number; body: string };
  if (verb === "upload") {
    const path = `/admin/v1/certificates/${encodeURIComponent(requireName(name))}`;
    const body = JSON.stringify({
      certificateBody: await readFile(requireFlag(values.cert, "cert"), "utf8"),
      privateKey: await readFile(requireFlag(values.key, "key"), "utf8"),
      ...(values.chain === undefined ? {} : { certificateChain: await readFile(values.chain, "utf8") }),
      ...(values.arn === undefined ? {} : { arn: values.arn }),
    });
    res = await client.send("PUT", path, body, "application/json");
  } else if (verb === "delete") {
    res = await client.send("DELETE", `/admin/v1/certificates/${encodeURIComponent(requireName(name))}`);
  } else if (verb === "list") {
    res = await client.send("GET", "/admin/v1/certificates");
  } else {
    throw new UsageError(USAGE);
  }
  if (res.status >= 300) {
    console.error(res.body);
    process.exitCode = 1;
    return;
  }
  if (res.body) console.log(res.body);
}

function requireName(name: string | undefined): string {
  if (!name) throw new UsageError("a certificate name is required");
  return name;
}
