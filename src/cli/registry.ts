/**
 * `ballast subnets add|list|remove` and `ballast limits list|set|reset`: the subnet registry and
 * the account limits, through the signed admin API. A subnet's zone names its region; limits are
 * per region: those of the region the request is signed for (`--region`, default us-east-1).
 */
import { parseArgs } from "node:util";
import { requireFlag, UsageError } from "./args.js";
import { credentials } from "./instances.js";
import { SignedClient } from "./signed-client.js";

const SUBNETS_USAGE =
  "usage: ballast subnets add ID --zone ZONE --vpc VPC [--cidr CIDR] [--default] | remove ID | list";
const LIMITS_USAGE = "usage: ballast limits list | set NAME MAX | reset NAME  [--region REGION]";

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      zone: { type: "string" },
      vpc: { type: "string" },
      cidr: { type: "string" },
      /** The default subnet of its zone: AvailabilityZones place load balancers in it. */
      default: { type: "boolean", default: false },
      endpoint: { type: "string", default: "http://127.0.0.1:9700" },
      region: { type: "string", default: "us-east-1" },
      "data-dir": { type: "string", default: "./data" },
    },
  });
}

async function client(values: ReturnType<typeof parse>["values"]): Promise<SignedClient> {
  return new SignedClient(
    values.endpoint ?? "http://127.0.0.1:9700",
    await credentials(values["data-dir"] ?? "./data"),
    values.region ?? "us-east-1",
  );
}

function required(value: string | undefined, what: string, usage: string): string {
  if (!value) throw new UsageError(`${what} is required\n${usage}`);
  return value;
}

export async function subnetsCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv);
  const [verb, id] = positionals;
  const path = (): string =>
    `/admin/v1/subnets/${encodeURIComponent(required(id, "a subnet id", SUBNETS_USAGE))}`;
  if (verb === "add") {
    const body = {
      zone: requireFlag(values.zone, "zone"),
      vpcId: requireFlag(values.vpc, "vpc"),
      ...(values.cidr === undefined ? {} : { cidrBlock: values.cidr }),
      ...(values.default === true ? { defaultForAz: true } : {}),
    };
    return report(await (await client(values)).send("PUT", path(), JSON.stringify(body), "application/json"));
  }
  if (verb === "remove") return report(await (await client(values)).send("DELETE", path()));
  if (verb === "list") return report(await (await client(values)).send("GET", "/admin/v1/subnets"));
  throw new UsageError(SUBNETS_USAGE);
}

export async function limitsCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv);
  const [verb, name, max] = positionals;
  const path = (): string =>
    `/admin/v1/limits/${encodeURIComponent(required(name, "a limit name", LIMITS_USAGE))}`;
  if (verb === "list") return report(await (await client(values)).send("GET", "/admin/v1/limits"));
  if (verb === "set") {
    const raw = required(max, "a maximum", LIMITS_USAGE);
    if (!/^\d+$/.test(raw)) throw new UsageError(`MAX must be a whole number, got ${raw}`);
    const body = JSON.stringify({ max: Number(raw) });
    return report(await (await client(values)).send("PUT", path(), body, "application/json"));
  }
  if (verb === "reset") return report(await (await client(values)).send("DELETE", path()));
  throw new UsageError(LIMITS_USAGE);
}

function report(res: { status: number; body: string }): void {
  if (res.status >= 300) {
    console.error(res.body);
    process.exitCode = 1;
    return;
  }
  if (res.body) console.log(res.body);
}
