/**
 * `ballast principals|keys|policies|audit`: who may do what, and what was done, through the signed
 * admin API. Errors are one line (`ballast keys create: NoSuchEntity: …`, exit code 1); lists are
 * tables; `--json` prints the API's answer.
 */
import { readFile } from "node:fs/promises";
import { requireArg } from "./args.js";
import { signedClient as client } from "./client.js";
import { parseCommand } from "./command.js";
import { table } from "./output.js";
import { answerJson } from "./signed-client.js";
import { AUDIT, KEYS, POLICIES, PRINCIPALS } from "./specs/access.js";

export { table };

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

function print(values: { readonly json: boolean }, data: unknown, text: () => string): void {
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
  const { values, positionals, verb } = parseCommand(PRINCIPALS, argv);
  const [name] = positionals;
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
  const path = `/admin/v1/principals/${enc(requireArg(name, "a principal name"))}`;
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
}

export async function keysCommand(argv: string[]): Promise<void> {
  const { values, positionals, verb } = parseCommand(KEYS, argv);
  const [arg] = positionals;
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
    const who = requireArg(arg, "a principal name");
    const r = answerJson<{ accessKey: KeyView }>(
      "keys create",
      await c.send("POST", `/admin/v1/principals/${enc(who)}/keys`),
    );
    if (r) print(values, r.accessKey, () => showSecret(r.accessKey));
    return;
  }
  const id = requireArg(arg, "an access key id");
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
}

interface PolicySummary {
  name: string;
  arn: string;
  type: string;
  description?: string;
  attachments: number;
}

export async function policiesCommand(argv: string[]): Promise<void> {
  const { values, positionals, verb } = parseCommand(POLICIES, argv);
  const [name] = positionals;
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
  const policy = requireArg(name, "a policy name");
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
    const given = requireArg(values.document, "--document");
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
    const who = requireArg(values.principal, "--principal");
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
  const { values } = parseCommand(AUDIT, argv);
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
