/**
 * `ballast principals|keys|policies|audit`: who may do what, and what was done, through the signed
 * admin API. Errors are one line (`ballast keys create: NoSuchEntity: …`, exit code 1); lists are
 * tables; `--json` prints the API's answer.
 */
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { UsageError } from "./args.js";
import { CHANGE_FLAGS, CHANGE_FLAGS_USAGE, changeAuthority } from "./change-flags.js";
import { credentials } from "./instances.js";
import { answerJson, SignedClient } from "./signed-client.js";

const PRINCIPALS_USAGE =
  "usage: ballast principals list | show NAME | create NAME [--policy P]... | delete NAME  [--json]";
const KEYS_USAGE =
  "usage: ballast keys list [--principal P] | create PRINCIPAL | rotate ID | deactivate ID | activate ID | delete ID  [--json]";
const POLICIES_USAGE =
  "usage: ballast policies list | show NAME | put NAME --document FILE|JSON [--description D] | delete NAME | attach NAME --principal P | detach NAME --principal P  [--json]";
/** Changes to administrators' keys and policies need a change ticket: every change verb takes the flags. */
const CHANGE_NOTE = `\n  changes to an administrator's keys or policies: ${CHANGE_FLAGS_USAGE}`;
const AUDIT_USAGE =
  "usage: ballast audit [--principal P] [--action A] [--denied | --result R] [--since TIME] [--limit N] [--json]";

const OPTIONS = {
  json: { type: "boolean", default: false },
  policy: { type: "string", multiple: true },
  principal: { type: "string" },
  document: { type: "string" },
  description: { type: "string" },
  action: { type: "string" },
  result: { type: "string" },
  denied: { type: "boolean", default: false },
  since: { type: "string" },
  limit: { type: "string" },
  endpoint: { type: "string", default: "http://127.0.0.1:9700" },
  region: { type: "string", default: "us-east-1" },
  "data-dir": { type: "string", default: "./data" },
  ...CHANGE_FLAGS,
} as const;

function parse(argv: string[]) {
  return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true });
}
type Values = ReturnType<typeof parse>["values"];

async function client(values: Values): Promise<SignedClient> {
  return new SignedClient(
    values.endpoint ?? "http://127.0.0.1:9700",
    await credentials(values["data-dir"] ?? "./data"),
    values.region ?? "us-east-1",
    changeAuthority(values),
  );
}

/** Columns padded to their widest cell. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

function need(value: string | undefined, what: string, usage: string): string {
  if (value === undefined || value === "") throw new UsageError(`${what} is required\n${usage}`);
  return value;
}

const enc = encodeURIComponent;

interface KeyView {
  accessKeyId: string;
  principal: string;
  status: string;
  createdTime: string;
  role?: string;
  secretAccessKey?: string;
}
interface PrincipalView {
  name: string;
  arn: string;
  stored: boolean;
  policies: string[];
  effectivePolicies: string[];
  accessKeys: KeyView[];
}

function print(values: Values, data: unknown, text: () => string): void {
  console.log(values.json ? JSON.stringify(data, null, 2) : text());
}

function printPrincipal(p: PrincipalView): string {
  const lines = [`${p.name}  ${p.arn}`, `  policies: ${p.effectivePolicies.join(", ") || "(none)"}`];
  for (const k of p.accessKeys)
    lines.push(
      `  key ${k.accessKeyId}  ${k.status}${k.role ? `  (role ${k.role})` : ""}  created ${k.createdTime}`,
    );
  return lines.join("\n");
}

export async function principalsCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv);
  const [verb, name] = positionals;
  if (!["list", "show", "create", "delete"].includes(verb ?? ""))
    throw new UsageError(PRINCIPALS_USAGE + CHANGE_NOTE);
  const c = await client(values);
  if (verb === "list") {
    const r = answerJson<{ principals: PrincipalView[] }>(
      "principals list",
      await c.send("GET", "/admin/v1/principals"),
    );
    if (r)
      print(values, r.principals, () =>
        table(
          ["NAME", "POLICIES", "KEYS"],
          r.principals.map((p) => [
            p.name,
            p.effectivePolicies.join(",") || "-",
            p.accessKeys
              .map((k) => `${k.accessKeyId}${k.status === "Inactive" ? " (inactive)" : ""}`)
              .join(",") || "-",
          ]),
        ),
      );
    return;
  }
  const path = `/admin/v1/principals/${enc(need(name, "a principal name", PRINCIPALS_USAGE))}`;
  if (verb === "show") {
    const r = answerJson<{ principal: PrincipalView }>("principals show", await c.send("GET", path));
    if (r) print(values, r.principal, () => printPrincipal(r.principal));
    return;
  }
  if (verb === "create") {
    const body = JSON.stringify({ policies: values.policy ?? [] });
    const r = answerJson<{ principal: PrincipalView }>(
      "principals create",
      await c.send("PUT", path, body, "application/json"),
    );
    if (r) print(values, r.principal, () => `created ${printPrincipal(r.principal)}`);
    return;
  }
  if (verb === "delete") {
    const r = answerJson<{ deleted: string }>("principals delete", await c.send("DELETE", path));
    if (r) print(values, r, () => `deleted principal ${r.deleted}`);
    return;
  }
  throw new UsageError(PRINCIPALS_USAGE + CHANGE_NOTE);
}

export async function keysCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv);
  const [verb, arg] = positionals;
  if (!["list", "create", "rotate", "deactivate", "activate", "delete"].includes(verb ?? ""))
    throw new UsageError(KEYS_USAGE + CHANGE_NOTE);
  const c = await client(values);
  if (verb === "list") {
    const q = values.principal === undefined ? "" : `?principal=${enc(values.principal)}`;
    const r = answerJson<{ accessKeys: KeyView[] }>("keys list", await c.send("GET", `/admin/v1/keys${q}`));
    if (r)
      print(values, r.accessKeys, () =>
        table(
          ["ACCESS KEY ID", "PRINCIPAL", "STATUS", "ROLE", "CREATED"],
          r.accessKeys.map((k) => [k.accessKeyId, k.principal, k.status, k.role ?? "-", k.createdTime]),
        ),
      );
    return;
  }
  const showSecret = (k: KeyView, extra = ""): string =>
    [
      `access key ${k.accessKeyId} for ${k.principal}${extra}`,
      `aws_access_key_id = ${k.accessKeyId}`,
      `aws_secret_access_key = ${k.secretAccessKey ?? ""}`,
      "(the secret is shown this once; keep it now)",
    ].join("\n");
  if (verb === "create") {
    const who = need(arg, "a principal name", KEYS_USAGE);
    const r = answerJson<{ accessKey: KeyView }>(
      "keys create",
      await c.send("POST", `/admin/v1/principals/${enc(who)}/keys`),
    );
    if (r) print(values, r.accessKey, () => showSecret(r.accessKey));
    return;
  }
  const id = need(arg, "an access key id", KEYS_USAGE);
  if (verb === "rotate") {
    const r = answerJson<{ accessKey: KeyView; deactivated: string }>(
      `keys rotate`,
      await c.send("POST", `/admin/v1/keys/${enc(id)}/rotate`),
    );
    if (r)
      print(values, r, () =>
        showSecret(r.accessKey, `; ${r.deactivated} is now Inactive (delete it when unused)`),
      );
    return;
  }
  if (verb === "deactivate" || verb === "activate") {
    const r = answerJson<{ accessKey: KeyView }>(
      `keys ${verb}`,
      await c.send("POST", `/admin/v1/keys/${enc(id)}/${verb}`),
    );
    if (r) print(values, r.accessKey, () => `${r.accessKey.accessKeyId}: ${r.accessKey.status}`);
    return;
  }
  if (verb === "delete") {
    const r = answerJson<{ deleted: string }>(
      "keys delete",
      await c.send("DELETE", `/admin/v1/keys/${enc(id)}`),
    );
    if (r) print(values, r, () => `deleted access key ${r.deleted}`);
    return;
  }
  throw new UsageError(KEYS_USAGE + CHANGE_NOTE);
}

interface PolicySummary {
  name: string;
  arn: string;
  type: string;
  description?: string;
  attachments: number;
}

export async function policiesCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv);
  const [verb, name] = positionals;
  if (!["list", "show", "put", "delete", "attach", "detach"].includes(verb ?? ""))
    throw new UsageError(POLICIES_USAGE + CHANGE_NOTE);
  const c = await client(values);
  if (verb === "list") {
    const r = answerJson<{ policies: PolicySummary[] }>(
      "policies list",
      await c.send("GET", "/admin/v1/policies"),
    );
    if (r)
      print(values, r.policies, () =>
        table(
          ["NAME", "TYPE", "ATTACHED", "DESCRIPTION"],
          r.policies.map((p) => [p.name, p.type, String(p.attachments), p.description ?? ""]),
        ),
      );
    return;
  }
  if (!["show", "put", "delete", "attach", "detach"].includes(verb ?? ""))
    throw new UsageError(POLICIES_USAGE + CHANGE_NOTE);
  const policy = need(name, "a policy name", POLICIES_USAGE);
  const path = `/admin/v1/policies/${enc(policy)}`;
  if (verb === "show") {
    const r = answerJson<{ policy: { arn: string; type: string; document: unknown } }>(
      "policies show",
      await c.send("GET", path),
    );
    if (r)
      print(
        values,
        r.policy,
        () => `${r.policy.arn} (${r.policy.type})\n${JSON.stringify(r.policy.document, null, 2)}`,
      );
    return;
  }
  if (verb === "put") {
    const given = need(values.document, "--document", POLICIES_USAGE);
    const text = given.trimStart().startsWith("{") ? given : await readFile(given, "utf8");
    let document: unknown;
    try {
      document = JSON.parse(text);
    } catch {
      console.error(`ballast policies put: MalformedPolicyDocument: ${given} is not valid JSON`);
      process.exitCode = 1;
      return;
    }
    const body = JSON.stringify({
      document,
      ...(values.description === undefined ? {} : { description: values.description }),
    });
    const r = answerJson<{ policy: { arn: string } }>(
      "policies put",
      await c.send("PUT", path, body, "application/json"),
    );
    if (r) print(values, r.policy, () => `stored ${r.policy.arn}`);
    return;
  }
  if (verb === "delete") {
    const r = answerJson<{ deleted: string }>("policies delete", await c.send("DELETE", path));
    if (r) print(values, r, () => `deleted policy ${r.deleted}`);
    return;
  }
  if (verb === "attach" || verb === "detach") {
    const who = need(values.principal, "--principal", POLICIES_USAGE);
    const r = answerJson<{ principal: PrincipalView }>(
      `policies ${verb}`,
      await c.send(
        verb === "attach" ? "PUT" : "DELETE",
        `/admin/v1/principals/${enc(who)}/policies/${enc(policy)}`,
      ),
    );
    if (r) print(values, r.principal, () => printPrincipal(r.principal));
    return;
  }
  throw new UsageError(POLICIES_USAGE + CHANGE_NOTE);
}

interface AuditRecordView {
  id: number;
  time: string;
  principal: string;
  accessKeyId?: string;
  action: string;
  resource: string;
  sourceIp: string;
  requestId: string;
  result: string;
  ticket?: string;
  count: number;
}

export async function auditCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv);
  if (positionals.length > 0) throw new UsageError(AUDIT_USAGE);
  const q = new URLSearchParams();
  if (values.principal !== undefined) q.set("principal", values.principal);
  if (values.action !== undefined) q.set("action", values.action);
  if (values.denied) q.set("result", "denied");
  else if (values.result !== undefined) q.set("result", values.result);
  if (values.since !== undefined) q.set("since", values.since);
  if (values.limit !== undefined) q.set("limit", values.limit);
  const qs = q.toString();
  const c = await client(values);
  const r = answerJson<{ records: AuditRecordView[] }>(
    "audit",
    await c.send("GET", `/admin/v1/audit${qs ? `?${qs}` : ""}`),
  );
  if (r === undefined) return;
  const who = (p: string) => p.replace(/^arn:aws:iam::\d+:user\//, "");
  print(values, r.records, () =>
    table(
      ["TIME", "PRINCIPAL", "ACTION", "RESOURCE", "SOURCE", "RESULT", "TICKET", "REQUEST ID"],
      r.records.map((a) => [
        a.time,
        who(a.principal),
        a.action,
        a.resource,
        a.sourceIp,
        a.count > 1 ? `${a.result} ×${a.count}` : a.result,
        a.ticket ?? "-",
        a.requestId,
      ]),
    ),
  );
}
