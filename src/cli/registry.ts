/**
 * `ballast subnets add|list|remove` and `ballast limits list|set|reset`: the subnet registry and
 * the account limits, through the signed admin API. A subnet's zone names its region; limits are
 * per region: those of the region the request is signed for (`--region`, default us-east-1).
 */
import { requireArg, requireFlag, UsageError } from "./args.js";
import { signedClient, withHint } from "./client.js";
import { parseCommand } from "./command.js";
import { printResult, table } from "./output.js";
import { LIMITS, SUBNETS } from "./specs/inventory.js";

interface Subnet {
  readonly subnetId: string;
  readonly zone: string;
  readonly vpcId: string;
  readonly cidrBlock?: string;
  readonly defaultForAz?: boolean;
}

interface Limit {
  readonly name: string;
  readonly max: number;
  readonly default: number;
}

export async function subnetsCommand(argv: string[]): Promise<void> {
  const { values, positionals, verb } = parseCommand(SUBNETS, argv);
  const [id] = positionals;
  const client = await signedClient(values);
  const path = (): string => `/admin/v1/subnets/${encodeURIComponent(requireArg(id, "a subnet id"))}`;
  if (verb === "add") {
    const body = {
      zone: requireFlag(values.zone, "zone"),
      vpcId: requireFlag(values.vpc, "vpc"),
      ...(values.cidr === undefined ? {} : { cidrBlock: values.cidr }),
      ...(values.default ? { defaultForAz: true } : {}),
    };
    const r = await client.json<{ subnet: Subnet }>("PUT", path(), body);
    return printResult(
      values.json,
      r,
      () => `subnet ${r.subnet.subnetId}: ${r.subnet.zone}, ${r.subnet.vpcId}`,
    );
  }
  if (verb === "remove") {
    const r = await client.json<{ deleted: string }>("DELETE", path()).catch((e: unknown) => {
      throw withHint(e, "NotFound", "'ballast subnets list' shows the registry");
    });
    return printResult(values.json, r, () => `removed subnet ${r.deleted}`);
  }
  const r = await client.json<{ subnets: Subnet[] }>("GET", "/admin/v1/subnets");
  printResult(values.json, r, () =>
    r.subnets.length === 0
      ? "no subnets in the registry; declare one with 'ballast subnets add ID --zone ZONE --vpc VPC'"
      : table(
          ["SUBNET", "ZONE", "VPC", "CIDR", "DEFAULT"],
          r.subnets.map((s) => [
            s.subnetId,
            s.zone,
            s.vpcId,
            s.cidrBlock ?? "-",
            s.defaultForAz ? "yes" : "no",
          ]),
        ),
  );
}

export async function limitsCommand(argv: string[]): Promise<void> {
  const { values, positionals, verb } = parseCommand(LIMITS, argv);
  const [name, max] = positionals;
  const client = await signedClient(values);
  const path = (): string => `/admin/v1/limits/${encodeURIComponent(requireArg(name, "a limit name"))}`;
  const listHint = "'ballast limits list' names the limits";
  if (verb === "set") {
    const raw = requireArg(max, "a maximum");
    if (!/^\d+$/.test(raw)) throw new UsageError(`MAX must be a whole number, got ${raw}`);
    const r = await client
      .json<{ limit: Limit & { region?: string } }>("PUT", path(), { max: Number(raw) })
      .catch((e: unknown) => {
        throw withHint(e, "InvalidParameterValue", listHint);
      });
    return printResult(values.json, r, () => `limit ${r.limit.name} in ${values.region}: ${r.limit.max}`);
  }
  if (verb === "reset") {
    const r = await client.json<{ deleted: string }>("DELETE", path()).catch((e: unknown) => {
      throw withHint(e, "InvalidParameterValue", listHint);
    });
    return printResult(values.json, r, () => `limit ${r.deleted} in ${values.region}: back to its default`);
  }
  const r = await client.json<{ region: string; limits: Limit[] }>("GET", "/admin/v1/limits");
  printResult(values.json, r, () =>
    [
      `account limits in ${r.region}:`,
      table(
        ["NAME", "MAX", "DEFAULT"],
        r.limits.map((l) => [l.name, String(l.max), String(l.default)]),
      ),
    ].join("\n"),
  );
}
