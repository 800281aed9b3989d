/**
 * Access end to end, with real clients against the real control plane (in-process, real SigV4,
 * ports chosen by the system): principals, keys and policies made through the admin API and the
 * `ballast` command; the AWS SDK, `aws elb` and boto3 refused with AWS's AccessDenied; explicit Deny,
 * wildcards, deactivated keys, the audit log, and keys stored with a role before policies.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import {
  CreateLoadBalancerCommand,
  DeleteLoadBalancerCommand,
  DescribeLoadBalancersCommand,
  ElasticLoadBalancingClient,
} from "@aws-sdk/client-elastic-load-balancing";
import { type RunningControlPlane, startControlPlane } from "../../src/cli/control-plane.js";
import { SignedClient } from "../../src/cli/signed-client.js";
import type { Credential } from "../../src/model/types.js";
import type { StoredAuditRecord } from "../../src/store/store.js";
import { silentLogger } from "../../src/util/logger.js";
import { sdkError } from "../api/support.js";
import { ticketFor } from "../support/tickets.js";
import { MAIN_JS } from "./support.js";

const run = promisify(execFile);
const ADMIN_ID = "AKIAACCESSADMIN00001";
const ADMIN_SECRET = "access-admin-secret-0123456789abcdefghij";
const ARN = (name: string) => `arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/${name}`;
const USER = (name: string) => `arn:aws:iam::000000000000:user/${name}`;

interface Key {
  accessKeyId: string;
  secretAccessKey: string;
}

async function exec(
  file: string,
  args: string[],
  key: Key,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = {
    ...process.env,
    AWS_ACCESS_KEY_ID: key.accessKeyId,
    AWS_SECRET_ACCESS_KEY: key.secretAccessKey,
    AWS_CONFIG_FILE: "/dev/null",
    AWS_SHARED_CREDENTIALS_FILE: "/dev/null",
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_MAX_ATTEMPTS: "1",
    AWS_PAGER: "",
  };
  try {
    const r = await run(file, args, { env, timeout: 60_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: err.code ?? 1, stdout: err.stdout ?? "", stderr: err.stderr ?? "" };
  }
}

describe("access: principals, keys, policies and the audit log, with real clients", () => {
  let cp: RunningControlPlane;
  let dataDir: string;
  let admin: SignedClient;
  const clients: ElasticLoadBalancingClient[] = [];
  const ADMIN: Key = { accessKeyId: ADMIN_ID, secretAccessKey: ADMIN_SECRET };

  const sdk = (key: Key): ElasticLoadBalancingClient => {
    const c = new ElasticLoadBalancingClient({
      endpoint: cp.apiUrl,
      region: "us-east-1",
      credentials: key,
      maxAttempts: 1,
    });
    clients.push(c);
    return c;
  };
  /** The administrator's calls carry the ticket an approver approved (changes to administrators need one). */
  let ticket = "";
  /** The verbs that change principals, keys or policies take --ticket (the CLI refuses it elsewhere). */
  const CHANGES: Readonly<Record<string, readonly string[]>> = {
    principals: ["create", "delete"],
    keys: ["create", "rotate", "deactivate", "activate", "delete"],
    policies: ["put", "delete", "attach", "detach"],
  };
  const takesTicket = (args: readonly string[]) =>
    CHANGES[args[0] ?? ""]?.includes(args[1] ?? "") === true && !args.includes("--break-glass");
  const ballast = (key: Key, ...args: string[]) =>
    exec(
      process.execPath,
      [
        MAIN_JS,
        ...args,
        "--endpoint",
        cp.apiUrl,
        ...(key === ADMIN && takesTicket(args) ? ["--ticket", ticket] : []),
      ],
      key,
    );
  const adminJson = async (method: string, path: string, body?: unknown) => {
    const res = await admin.send(
      method,
      path,
      body === undefined ? "" : JSON.stringify(body),
      "application/json",
    );
    return { status: res.status, body: JSON.parse(res.body) as Record<string, unknown> };
  };
  const createLb = (name: string) =>
    new CreateLoadBalancerCommand({
      LoadBalancerName: name,
      Listeners: [{ Protocol: "HTTP", LoadBalancerPort: 80, InstanceProtocol: "HTTP", InstancePort: 8080 }],
      AvailabilityZones: ["us-east-1a"],
    });
  /** A principal with the given policies and one fresh key, through the admin API. */
  const principal = async (name: string, policies: string[]): Promise<Key> => {
    assert.equal((await adminJson("PUT", `/admin/v1/principals/${name}`, { policies })).status, 200);
    const r = await adminJson("POST", `/admin/v1/principals/${name}/keys`);
    assert.equal(r.status, 200);
    return r.body.accessKey as Key;
  };
  const putPolicy = async (name: string, document: unknown) => {
    const r = await adminJson("PUT", `/admin/v1/policies/${name}`, { document });
    assert.equal(r.status, 200, JSON.stringify(r.body));
  };
  const audit = async (query: string): Promise<StoredAuditRecord[]> => {
    const r = await adminJson("GET", `/admin/v1/audit?${query}`);
    assert.equal(r.status, 200);
    return r.body.records as StoredAuditRecord[];
  };

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "ballast-access-"));
    cp = await startControlPlane({
      dataDir,
      store: "sqlite",
      host: "127.0.0.1",
      apiPort: 0,
      agentPort: 0,
      dnsPort: 0,
      dnsDomain: "ballast.test",
      zones: ["us-east-1a", "us-east-1b"],
      env: { BALLAST_BOOTSTRAP_ACCESS_KEY_ID: ADMIN_ID, BALLAST_BOOTSTRAP_SECRET_ACCESS_KEY: ADMIN_SECRET },
      logger: silentLogger,
    });
    // The second person: an approver needs no ticket to create (it holds no maintenance right).
    admin = new SignedClient(cp.apiUrl, ADMIN);
    const approver = await principal("approver", ["BallastApprover"]);
    ticket = await ticketFor(cp.apiUrl, ADMIN, approver, [
      "ballast:ManagePolicies",
      "ballast:ManagePrincipals",
      "ballast:ManageCredentials",
    ]);
    admin = new SignedClient(cp.apiUrl, ADMIN, "us-east-1", { ticket });
  });
  after(async () => {
    for (const c of clients) c.destroy();
    await cp?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("gives the bootstrap principal the administrator policy", async () => {
    const r = await adminJson("GET", "/admin/v1/principals/admin");
    assert.equal(r.status, 200);
    const p = r.body.principal as { policies: string[]; stored: boolean };
    assert.deepEqual(p.policies, ["BallastAdministrator"]);
    assert.equal(p.stored, true);
  });

  it("Describe* only: the SDK and aws elb are refused CreateLoadBalancer with AWS's message, and nothing changes", async () => {
    const bob = await principal("bob", ["ElasticLoadBalancingReadOnly"]);
    const c = sdk(bob);
    assert.deepEqual((await c.send(new DescribeLoadBalancersCommand({}))).LoadBalancerDescriptions, []);
    const head = await cp.store.head();
    const message = `User: ${USER("bob")} is not authorized to perform: elasticloadbalancing:CreateLoadBalancer on resource: ${ARN("web")}`;
    const e = await sdkError(() => c.send(createLb("web")));
    assert.equal(e.name, "AccessDenied");
    assert.equal(e.status, 403);
    assert.equal(e.message, message);

    const cli = await exec(
      "aws",
      [
        "elb",
        "create-load-balancer",
        "--load-balancer-name",
        "web",
        "--listeners",
        "Protocol=HTTP,LoadBalancerPort=80,InstanceProtocol=HTTP,InstancePort=8080",
        "--availability-zones",
        "us-east-1a",
        "--endpoint-url",
        cp.apiUrl,
        "--region",
        "us-east-1",
      ],
      bob,
    );
    assert.notEqual(cli.code, 0);
    assert.ok(cli.stderr.includes("(AccessDenied)"), cli.stderr);
    assert.ok(cli.stderr.includes(message), cli.stderr);
    const boto3 = await exec(
      "python3",
      [
        "-c",
        [
          "import boto3, botocore, json, sys",
          "c = boto3.client('elb', endpoint_url=sys.argv[1], region_name='us-east-1')",
          "try:",
          "    c.create_load_balancer(LoadBalancerName='web', AvailabilityZones=['us-east-1a'],",
          "        Listeners=[{'Protocol': 'HTTP', 'LoadBalancerPort': 80, 'InstancePort': 8080}])",
          "except botocore.exceptions.ClientError as e:",
          "    print(json.dumps([e.response['Error']['Code'], e.response['Error']['Message'],",
          "        e.response['ResponseMetadata']['HTTPStatusCode']]))",
        ].join("\n"),
        cp.apiUrl,
      ],
      bob,
    );
    assert.deepEqual(JSON.parse(boto3.stdout), ["AccessDenied", message, 403], boto3.stderr);
    assert.equal(await cp.store.head(), head, "no revision appended");
    assert.equal(await cp.store.get("loadBalancer", "web"), undefined);
  });

  it("an explicit Deny on one load balancer beats an Allow *", async () => {
    await putPolicy("AllButDeleteProd", {
      Version: "2012-10-17",
      Statement: [
        { Effect: "Allow", Action: "*", Resource: "*" },
        { Effect: "Deny", Action: "elasticloadbalancing:DeleteLoadBalancer", Resource: ARN("prod") },
      ],
    });
    const carol = await principal("carol", ["AllButDeleteProd"]);
    const c = sdk(carol);
    await c.send(createLb("prod"));
    await c.send(createLb("scratch"));
    await c.send(new DeleteLoadBalancerCommand({ LoadBalancerName: "scratch" }));
    const head = await cp.store.head();
    const e = await sdkError(() => c.send(new DeleteLoadBalancerCommand({ LoadBalancerName: "prod" })));
    assert.equal(e.name, "AccessDenied");
    assert.equal(
      e.message,
      `User: ${USER("carol")} is not authorized to perform: elasticloadbalancing:DeleteLoadBalancer on resource: ${ARN("prod")}`,
    );
    assert.equal(await cp.store.head(), head);
    assert.ok(await cp.store.get("loadBalancer", "prod"));
  });

  it("wildcards in actions and resources", async () => {
    await putPolicy("WebTeam", {
      Version: "2012-10-17",
      Statement: [
        { Effect: "Allow", Action: "elasticloadbalancing:Describe*", Resource: "*" },
        {
          Effect: "Allow",
          Action: ["elasticloadbalancing:Create*", "elasticloadbalancing:Delete*"],
          Resource: "arn:aws:elasticloadbalancing:*:000000000000:loadbalancer/web-?",
        },
      ],
    });
    const dave = await principal("dave", ["WebTeam"]);
    const c = sdk(dave);
    await c.send(createLb("web-1"));
    assert.equal((await sdkError(() => c.send(createLb("web-10")))).name, "AccessDenied");
    assert.equal((await sdkError(() => c.send(createLb("api-1")))).name, "AccessDenied");
    await c.send(new DeleteLoadBalancerCommand({ LoadBalancerName: "web-1" }));
  });

  it("a deactivated key is refused with InvalidClientTokenId; activated, it works again; rotated, the old one is out", async () => {
    const keys = (await adminJson("GET", "/admin/v1/keys?principal=bob")).body.accessKeys as {
      accessKeyId: string;
    }[];
    const id = keys[0]?.accessKeyId ?? "";
    const secret = (await cp.store.get("credential", id))?.doc.secretAccessKey ?? "";
    const bob = { accessKeyId: id, secretAccessKey: secret };
    const off = await ballast(ADMIN, "keys", "deactivate", id);
    assert.equal(off.code, 0, off.stderr);
    assert.match(off.stdout, /Inactive/);
    const e = await sdkError(() => sdk(bob).send(new DescribeLoadBalancersCommand({})));
    assert.equal(e.name, "InvalidClientTokenId");
    assert.equal(e.message, "The security token included in the request is invalid.");
    assert.equal((await ballast(ADMIN, "keys", "activate", id)).code, 0);
    await sdk(bob).send(new DescribeLoadBalancersCommand({}));

    const rotated = await ballast(ADMIN, "keys", "rotate", id, "--json");
    assert.equal(rotated.code, 0, rotated.stderr);
    const fresh = (JSON.parse(rotated.stdout) as { accessKey: Key }).accessKey;
    await sdk(fresh).send(new DescribeLoadBalancersCommand({}));
    assert.equal(
      (await sdkError(() => sdk(bob).send(new DescribeLoadBalancersCommand({})))).name,
      "InvalidClientTokenId",
    );
    assert.equal((await ballast(ADMIN, "keys", "delete", id)).code, 0);
  });

  it("the audit log has the allowed and the denied calls, by API and CLI", async () => {
    const denied = await audit("principal=bob&result=denied");
    const create = denied.find((r) => r.action === "elasticloadbalancing:CreateLoadBalancer");
    assert.ok(create, JSON.stringify(denied));
    assert.equal(create.principal, USER("bob"));
    assert.equal(create.resource, ARN("web"));
    assert.equal(create.sourceIp, "127.0.0.1");
    assert.match(create.requestId, /^[0-9a-f-]{36}$/);
    const allowed = await audit("principal=carol&action=DeleteLoadBalancer&result=allowed");
    assert.deepEqual(
      allowed.map((r) => r.resource),
      [ARN("scratch")],
    );
    const prod = await audit("principal=carol&action=DeleteLoadBalancer&result=denied");
    assert.deepEqual(
      prod.map((r) => r.resource),
      [ARN("prod")],
    );

    const cli = await ballast(ADMIN, "audit", "--principal", "carol", "--denied", "--json");
    assert.equal(cli.code, 0, cli.stderr);
    const records = JSON.parse(cli.stdout) as StoredAuditRecord[];
    assert.deepEqual(
      records.map((r) => [r.action, r.resource, r.result]),
      [["elasticloadbalancing:DeleteLoadBalancer", ARN("prod"), "denied"]],
    );
    const table = await ballast(ADMIN, "audit", "--principal", "carol", "--limit", "3");
    assert.equal(table.code, 0, table.stderr);
    assert.match(
      table.stdout.split("\n")[0] ?? "",
      /^TIME\s+PRINCIPAL\s+ACTION\s+RESOURCE\s+SOURCE\s+RESULT/,
    );
    assert.equal(table.stdout.trim().split("\n").length, 4);
  });

  it("the admin API authorizes its routes too, with AWS's message in its JSON error", async () => {
    const bob2 = await principal("erin", ["BallastReadOnly"]);
    const c = new SignedClient(cp.apiUrl, bob2);
    assert.equal((await c.send("GET", "/admin/v1/instances")).status, 200);
    const r = await c.send("POST", "/admin/v1/state/restore", JSON.stringify({ to: 1 }), "application/json");
    assert.equal(r.status, 403);
    assert.deepEqual(JSON.parse(r.body), {
      error: {
        code: "AccessDenied",
        message: `User: ${USER("erin")} is not authorized to perform: ballast:RestoreState on resource: arn:aws:ballast::000000000000:state`,
      },
    });
    const cli = await ballast(bob2, "principals", "create", "mallory");
    assert.equal(cli.code, 1);
    assert.equal(
      cli.stderr.trim(),
      `ballast principals create: AccessDenied: User: ${USER("erin")} is not authorized to perform: ballast:ManagePrincipals on resource: ${USER("mallory")}`,
    );
  });

  it("keys stored with a role before policies keep working: role → managed policy", async () => {
    const legacy = (accessKeyId: string, principal: string, role: Credential["role"]): Credential => ({
      accessKeyId,
      secretAccessKey: `${accessKeyId}-secret-0123456789`,
      principal,
      ...(role === undefined ? {} : { role }),
      createdTime: "2025-01-01T00:00:00.000Z",
    });
    const reader = legacy("AKIALEGACYREADER0001", "rita", "reader");
    const operator = legacy("AKIALEGACYOPERATOR01", "otto", "operator");
    await cp.store.mutate(
      { principal: "test", sourceIp: "local", requestId: "seed", action: "SeedLegacyKeys" },
      async (tx) => {
        tx.put("credential", reader.accessKeyId, reader);
        tx.put("credential", operator.accessKeyId, operator);
      },
    );
    const r = sdk(reader);
    await r.send(new DescribeLoadBalancersCommand({}));
    const e = await sdkError(() => r.send(createLb("legacy")));
    assert.equal(
      e.message,
      `User: ${USER("rita")} is not authorized to perform: elasticloadbalancing:CreateLoadBalancer on resource: ${ARN("legacy")}`,
    );
    const o = sdk(operator);
    await o.send(createLb("legacy"));
    const opAdmin = new SignedClient(cp.apiUrl, operator);
    assert.equal(
      (
        await opAdmin.send(
          "PUT",
          "/admin/v1/instances/i-1",
          JSON.stringify({ address: "10.0.0.1", zone: "us-east-1a" }),
          "application/json",
        )
      ).status,
      200,
    );
    assert.equal((await opAdmin.send("GET", "/admin/v1/state/export")).status, 403);

    const listed = await ballast(ADMIN, "principals", "list");
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /^rita\s+BallastReadOnly\s+AKIALEGACYREADER0001$/m);
    assert.match(listed.stdout, /^otto\s+BallastOperator\s+AKIALEGACYOPERATOR01$/m);

    // Attaching a policy stores the principal; the key keeps its role's policy beside it.
    const attached = await ballast(
      ADMIN,
      "policies",
      "attach",
      "ElasticLoadBalancingFullAccess",
      "--principal",
      "rita",
    );
    assert.equal(attached.code, 0, attached.stderr);
    await r.send(createLb("legacy-2"));
    const stored = (await cp.store.get("credential", reader.accessKeyId))?.doc;
    assert.equal(stored?.role, "reader", "the stored key is not rewritten");
  });

  it("the CLI: policies put/show/list/delete, managed policies not deletable, one-line errors", async () => {
    const bad = await ballast(ADMIN, "policies", "put", "Broken", "--document", '{"Version":"2012-10-17"}');
    assert.equal(bad.code, 1);
    assert.equal(
      bad.stderr.trim(),
      "ballast policies put: MalformedPolicyDocument: The policy document must have a Statement",
    );
    const doc =
      '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ballast:Get*","Resource":"*"}}';
    assert.equal((await ballast(ADMIN, "policies", "put", "Inventory", "--document", doc)).code, 0);
    const show = await ballast(ADMIN, "policies", "show", "Inventory", "--json");
    assert.deepEqual((JSON.parse(show.stdout) as { document: unknown }).document, JSON.parse(doc));
    const list = await ballast(ADMIN, "policies", "list");
    assert.match(list.stdout, /^ElasticLoadBalancingReadOnly\s+managed\s+1\s/m);
    assert.match(list.stdout, /^Inventory\s+customer\s+0/m);
    const managed = await ballast(ADMIN, "policies", "delete", "BallastAdministrator");
    assert.equal(managed.code, 1);
    assert.match(
      managed.stderr,
      /^ballast policies delete: DeleteConflict: BallastAdministrator is a managed policy/,
    );
    const inUse = await ballast(ADMIN, "policies", "delete", "WebTeam");
    assert.match(
      inUse.stderr,
      /DeleteConflict: Cannot delete a policy attached to entities: WebTeam is attached to dave/,
    );
    assert.equal((await ballast(ADMIN, "policies", "delete", "Inventory")).code, 0);
    const hasKeys = await ballast(ADMIN, "principals", "delete", "dave");
    assert.match(hasKeys.stderr, /DeleteConflict: Cannot delete entity, must delete access keys first/);
    const created = await ballast(ADMIN, "keys", "create", "nobody");
    assert.equal(
      created.stderr.trim(),
      "ballast keys create: NoSuchEntity: The user with name nobody cannot be found.",
    );
  });

  it("refuses a change that would leave nobody able to repair access", async () => {
    const carol = (await adminJson("GET", "/admin/v1/keys?principal=carol")).body.accessKeys as {
      accessKeyId: string;
    }[];
    // carol (Allow *) could still repair access: deactivating her key is fine while admin's is there.
    assert.equal((await ballast(ADMIN, "keys", "deactivate", carol[0]?.accessKeyId ?? "")).code, 0);
    const head = await cp.store.head();
    const lockout =
      /^ballast [a-z ]+: DeleteConflict: Refused: afterwards no active access key could manage principals, keys and policies/;
    const off = await ballast(ADMIN, "keys", "deactivate", ADMIN_ID);
    assert.equal(off.code, 1);
    assert.match(off.stderr, lockout);
    const detach = await ballast(ADMIN, "policies", "detach", "BallastAdministrator", "--principal", "admin");
    assert.match(detach.stderr, lockout);
    const deny = '{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"ballast:*","Resource":"*"}}';
    assert.equal((await ballast(ADMIN, "policies", "put", "NoBallast", "--document", deny)).code, 0);
    const attach = await ballast(ADMIN, "policies", "attach", "NoBallast", "--principal", "admin");
    assert.match(attach.stderr, lockout);
    assert.equal(await cp.store.head(), head + 1, "only the policy itself was stored");
    await sdk(ADMIN).send(new DescribeLoadBalancersCommand({}));
  });

  it("break-glass from the CLI: one administrator acts alone, and it shows — alarm, audit, metric", async () => {
    const head = await cp.store.head();
    const plain = await exec(
      process.execPath,
      [MAIN_JS, "keys", "create", "admin", "--endpoint", cp.apiUrl],
      ADMIN,
    );
    assert.equal(plain.code, 1);
    assert.match(
      plain.stderr,
      /^ballast keys create: ChangeTicketRequired: ballast:ManageCredentials changes the credentials or policies of an administrator/,
    );
    assert.equal(await cp.store.head(), head);
    const noReason = await exec(
      process.execPath,
      [MAIN_JS, "keys", "create", "admin", "--break-glass", "--endpoint", cp.apiUrl],
      ADMIN,
    );
    assert.equal(noReason.code, 2);
    assert.match(noReason.stderr, /--break-glass needs --reason TEXT/);
    const glass = await exec(
      process.execPath,
      [
        MAIN_JS,
        "keys",
        "create",
        "admin",
        "--break-glass",
        "--reason",
        "approver on leave, key lost",
        "--endpoint",
        cp.apiUrl,
      ],
      ADMIN,
    );
    assert.equal(glass.code, 0, glass.stderr);
    const alarms = await ballast(ADMIN, "alarms");
    assert.equal(alarms.code, 1, "an alarm needs attention");
    assert.match(
      alarms.stdout,
      /^BREAK-GLASS \S+: arn:aws:iam::000000000000:user\/admin ran ballast:ManageCredentials without a change ticket: "approver on leave, key lost"/m,
    );
    const records = await audit("principal=admin&action=ManageCredentials&result=allowed");
    assert.equal(records[0]?.breakGlass, "approver on leave, key lost");
    const metrics = await (await fetch(cp.metricsUrl)).text();
    assert.match(metrics, /^ballast_break_glass_total\{action="ballast:ManageCredentials"\} 1$/m);
    assert.match(metrics, /^ballast_change_ticket_uses_total\{action="ballast:ManagePolicies"\} [1-9]\d*$/m);
    assert.match(metrics, /^ballast_change_ticket_refusals_total\{code="ChangeTicketRequired"\} [1-9]\d*$/m);
  });
});
