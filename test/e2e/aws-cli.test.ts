/**
 * The walking skeleton driven by the real `aws elb` command line, plus bad input through the
 * whole system: each rejected call returns the AWS error and leaves the stored state as it was.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import {
  CreateLoadBalancerCommand,
  DescribeLoadBalancersCommand,
  ElasticLoadBalancingClient,
} from "@aws-sdk/client-elastic-load-balancing";
import {
  ACCESS_KEY_ID,
  Backend,
  MAIN_JS,
  type RunningUp,
  resolveA,
  SECRET_ACCESS_KEY,
  sdkClient,
  sprayDns,
  startUp,
  tempDir,
  waitFor,
} from "./support.js";

const run = promisify(execFile);
const LB_PORT = 8090;
const BACKEND_PORT = 9082;
const C1_ID = "i-0c10000000000001";
const CLIENT_ENV = {
  ...process.env,
  AWS_ACCESS_KEY_ID: ACCESS_KEY_ID,
  AWS_SECRET_ACCESS_KEY: SECRET_ACCESS_KEY,
  AWS_CONFIG_FILE: "/dev/null",
  AWS_SHARED_CREDENTIALS_FILE: "/dev/null",
  AWS_EC2_METADATA_DISABLED: "true",
  AWS_MAX_ATTEMPTS: "1",
  AWS_PAGER: "",
};

async function exec(file: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(file, args, { env: CLIENT_ENV, timeout: 60_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: err.code ?? 1, stdout: err.stdout ?? "", stderr: err.stderr ?? "" };
  }
}

function ballast(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return exec(process.execPath, [MAIN_JS, ...args]);
}

describe("e2e with the aws CLI", () => {
  let up: RunningUp;
  const backends = [1, 2].map((n) => new Backend(`c${n}`, `127.0.53.${n}`, BACKEND_PORT));

  function aws(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return exec("aws", [
      "elb",
      ...args,
      "--endpoint-url",
      up.apiUrl,
      "--region",
      "us-east-1",
      "--output",
      "json",
    ]);
  }

  before(async () => {
    for (const b of backends) await b.start();
    up = await startUp({ dataDir: tempDir("e2e-cli"), poolOctet: 43 });
  });
  after(async () => {
    await up?.stop();
    for (const b of backends) await b.stop();
  });

  it("creates, registers, routes, deregisters and deletes with `aws elb`", async () => {
    const created = await aws(
      "create-load-balancer",
      "--load-balancer-name",
      "cli",
      "--listeners",
      `Protocol=HTTP,LoadBalancerPort=${LB_PORT},InstanceProtocol=HTTP,InstancePort=${BACKEND_PORT}`,
      "--availability-zones",
      "us-east-1a",
      "us-east-1b",
    );
    assert.equal(created.code, 0, created.stderr);
    const dnsName = (JSON.parse(created.stdout) as { DNSName: string }).DNSName;
    assert.match(dnsName, /^cli-\d+\.us-east-1\.elb\.ballast\.internal$/);

    // One back end through the inventory (`ballast instances add`), one by its address.
    const added = await ballast(
      "instances",
      "add",
      C1_ID,
      "--address",
      backends[0]?.address ?? "",
      "--zone",
      "us-east-1a",
      "--endpoint",
      up.apiUrl,
    );
    assert.equal(added.code, 0, added.stderr);
    const listed = await ballast("instances", "list", "--endpoint", up.apiUrl);
    assert.match(listed.stdout, new RegExp(C1_ID));
    const reg = await aws(
      "register-instances-with-load-balancer",
      "--load-balancer-name",
      "cli",
      "--instances",
      C1_ID,
      backends[1]?.address ?? "",
    );
    assert.equal(reg.code, 0, reg.stderr);

    await waitFor(async () => (await resolveA(up.dnsPort, dnsName)).length > 0, { what: "DNS" });
    await waitFor(
      async () => {
        const h = await aws("describe-instance-health", "--load-balancer-name", "cli");
        const states = (JSON.parse(h.stdout) as { InstanceStates: { State: string }[] }).InstanceStates;
        return states.length === 2 && states.every((s) => s.State === "InService");
      },
      { timeoutMs: 40_000, intervalMs: 1000, what: "InService (default TCP health check)" },
    );
    // Both back ends are in zone a and cross-zone is off: go where DNS sends clients.
    const seen = await waitFor(
      async () => {
        const names = await sprayDns(up.dnsPort, dnsName, LB_PORT, 20);
        return names.every((n) => n === "c1" || n === "c2") ? names : false;
      },
      { what: "traffic through the nodes DNS answers" },
    );
    assert.deepEqual([...new Set(seen)].sort(), ["c1", "c2"]);

    const dereg = await aws(
      "deregister-instances-from-load-balancer",
      "--load-balancer-name",
      "cli",
      "--instances",
      C1_ID,
    );
    assert.equal(dereg.code, 0, dereg.stderr);
    await waitFor(async () => (await sprayDns(up.dnsPort, dnsName, LB_PORT, 6)).every((n) => n === "c2"), {
      what: "only c2",
    });

    const deleted = await aws("delete-load-balancer", "--load-balancer-name", "cli");
    assert.equal(deleted.code, 0, deleted.stderr);
    const described = await aws("describe-load-balancers");
    assert.deepEqual(
      (JSON.parse(described.stdout) as { LoadBalancerDescriptions: unknown[] }).LoadBalancerDescriptions,
      [],
    );
  });

  it("answers bad input with the AWS error and leaves the state unchanged", async () => {
    const elb = sdkClient(up.apiUrl);
    await elb.send(
      new CreateLoadBalancerCommand({
        LoadBalancerName: "keep",
        Listeners: [{ Protocol: "HTTP", LoadBalancerPort: 8091, InstancePort: 9083 }],
        AvailabilityZones: ["us-east-1a"],
      }),
    );
    const before = JSON.stringify(
      (await elb.send(new DescribeLoadBalancersCommand({}))).LoadBalancerDescriptions,
    );

    const cases: { args: string[]; code: string }[] = [
      {
        args: [
          "create-load-balancer",
          "--load-balancer-name=-bad-",
          "--listeners",
          "Protocol=HTTP,LoadBalancerPort=80,InstancePort=80",
          "--availability-zones",
          "us-east-1a",
        ],
        code: "ValidationError",
      },
      {
        args: [
          "create-load-balancer",
          "--load-balancer-name",
          "keep",
          "--listeners",
          "Protocol=TCP,LoadBalancerPort=81,InstancePort=81",
          "--availability-zones",
          "us-east-1a",
        ],
        code: "DuplicateLoadBalancerName",
      },
      { args: ["describe-load-balancers", "--page-size", "401"], code: "ValidationError" },
      { args: ["describe-load-balancers", "--load-balancer-names", "missing"], code: "LoadBalancerNotFound" },
      {
        args: [
          "register-instances-with-load-balancer",
          "--load-balancer-name",
          "keep",
          "--instances",
          "i-0notininventory",
        ],
        code: "InvalidInstance",
      },
      {
        args: [
          "configure-health-check",
          "--load-balancer-name",
          "keep",
          "--health-check",
          "Target=HTTP:80/,Interval=5,Timeout=5,UnhealthyThreshold=2,HealthyThreshold=2",
        ],
        code: "ValidationError",
      },
      {
        args: [
          "configure-health-check",
          "--load-balancer-name",
          "keep",
          "--health-check",
          "Target=HTTP:80/,Interval=301,Timeout=5,UnhealthyThreshold=2,HealthyThreshold=2",
        ],
        code: "ValidationError",
      },
      {
        args: [
          "configure-health-check",
          "--load-balancer-name",
          "keep",
          "--health-check",
          "Target=HTTP:80/,Interval=30,Timeout=5,UnhealthyThreshold=2,HealthyThreshold=11",
        ],
        code: "ValidationError",
      },
    ];
    for (const c of cases) {
      const r = await aws(...c.args);
      assert.notEqual(r.code, 0, `${c.args[0]} should fail`);
      assert.match(r.stderr, new RegExp(`\\(${c.code}\\)`), `${c.args.join(" ")}: ${r.stderr}`);
    }

    const badKey = new ElasticLoadBalancingClient({
      endpoint: up.apiUrl,
      region: "us-east-1",
      credentials: { accessKeyId: "AKIAUNKNOWNKEY000000", secretAccessKey: "nope-nope-nope-nope-nope" },
      maxAttempts: 1,
    });
    await assert.rejects(
      badKey.send(new DescribeLoadBalancersCommand({})),
      (e: Error & { $metadata?: { httpStatusCode?: number } }) => {
        assert.equal(e.name, "InvalidClientTokenId");
        assert.equal(e.$metadata?.httpStatusCode, 403);
        return true;
      },
    );
    badKey.destroy();
    const wrongSecret = new ElasticLoadBalancingClient({
      endpoint: up.apiUrl,
      region: "us-east-1",
      credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: "wrong-secret-wrong-secret-wrong" },
      maxAttempts: 1,
    });
    await assert.rejects(
      wrongSecret.send(
        new CreateLoadBalancerCommand({
          LoadBalancerName: "sneaky",
          Listeners: [{ Protocol: "HTTP", LoadBalancerPort: 80, InstancePort: 80 }],
          AvailabilityZones: ["us-east-1a"],
        }),
      ),
      { name: "SignatureDoesNotMatch" },
    );
    wrongSecret.destroy();
    const noAuth = await fetch(up.apiUrl, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "Action=DeleteLoadBalancer&Version=2012-06-01&LoadBalancerName=keep",
    });
    assert.equal(noAuth.status, 403);
    assert.match(await noAuth.text(), /<Code>MissingAuthenticationToken<\/Code>/);

    const afterState = JSON.stringify(
      (await elb.send(new DescribeLoadBalancersCommand({}))).LoadBalancerDescriptions,
    );
    assert.equal(afterState, before);
    elb.destroy();
  });
});
