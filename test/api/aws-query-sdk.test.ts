/** The ELB API driven by the real AWS SDK v3 against a real server. */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  ConfigureHealthCheckCommand,
  CreateLoadBalancerCommand,
  type CreateLoadBalancerCommandInput,
  DeleteLoadBalancerCommand,
  DeregisterInstancesFromLoadBalancerCommand,
  DescribeInstanceHealthCommand,
  DescribeLoadBalancersCommand,
  type ElasticLoadBalancingClient,
  RegisterInstancesWithLoadBalancerCommand,
} from "@aws-sdk/client-elastic-load-balancing";
import { defaultVpc } from "../../src/model/default-vpc.js";
import { READER_KEY, sdkError, startTestServer, type TestServer } from "./support.js";

const http = (port = 80, instancePort = 8080) => ({
  Protocol: "HTTP",
  LoadBalancerPort: port,
  InstancePort: instancePort,
});

function createInput(
  name: string,
  over: Partial<CreateLoadBalancerCommandInput> = {},
): CreateLoadBalancerCommandInput {
  return { LoadBalancerName: name, Listeners: [http()], AvailabilityZones: ["us-east-1a"], ...over };
}

describe("ELB API through the AWS SDK", () => {
  let server: TestServer;
  let elb: ElasticLoadBalancingClient;
  before(async () => {
    server = await startTestServer();
    elb = server.client();
    await server.store.mutate(
      { principal: "test", sourceIp: "127.0.0.1", requestId: "seed", action: "PutInstance" },
      async (tx) => {
        tx.put("instance", "i-0001", { instanceId: "i-0001", address: "10.0.0.1", zone: "us-east-1a" });
        tx.put("instance", "i-0002", { instanceId: "i-0002", address: "10.0.0.2", zone: "us-east-1b" });
      },
    );
  });
  after(() => server.close());

  /** Asserts the call fails with code/status and appends no revision. */
  async function rejects(fn: () => Promise<unknown>, code: string, status = 400): Promise<string> {
    const head = await server.store.head();
    const err = await sdkError(fn);
    assert.equal(err.code, code, err.message);
    assert.equal(err.status, status);
    assert.equal(await server.store.head(), head, "a rejected call must not append a revision");
    return err.message;
  }

  test("CreateLoadBalancer returns the DNS name and stores defaults", async () => {
    const out = await elb.send(
      new CreateLoadBalancerCommand(createInput("web", { Tags: [{ Key: "team", Value: "a" }] })),
    );
    assert.match(out.DNSName ?? "", /^web-\d{10}\.us-east-1\.elb\.ballast\.test$/);
    const lb = (await server.store.get("loadBalancer", "web"))?.doc;
    assert.deepEqual(lb?.healthCheck, {
      target: "TCP:8080",
      interval: 30,
      timeout: 5,
      unhealthyThreshold: 2,
      healthyThreshold: 10,
    });
    assert.deepEqual(lb?.listeners, [
      { protocol: "HTTP", loadBalancerPort: 80, instanceProtocol: "HTTP", instancePort: 8080 },
    ]);
    assert.deepEqual(lb?.tags, [{ key: "team", value: "a" }]);
    const rev = await server.store.revision(await server.store.head());
    assert.equal(rev?.principal, "alice");
    assert.equal(rev?.action, "CreateLoadBalancer");
    assert.equal(rev?.sourceIp, "127.0.0.1");
  });

  test("CreateLoadBalancer is idempotent for the same configuration", async () => {
    const first = await elb.send(new CreateLoadBalancerCommand(createInput("idem")));
    const head = await server.store.head();
    const again = await elb.send(new CreateLoadBalancerCommand(createInput("idem")));
    assert.equal(again.DNSName, first.DNSName);
    assert.equal(await server.store.head(), head);
    await rejects(
      () => elb.send(new CreateLoadBalancerCommand(createInput("idem", { Listeners: [http(81)] }))),
      "DuplicateLoadBalancerName",
    );
  });

  test("CreateLoadBalancer defaults the instance protocol to the front end's layer", async () => {
    await elb.send(
      new CreateLoadBalancerCommand(
        createInput("tcp-lb", {
          Listeners: [{ Protocol: "tcp", LoadBalancerPort: 5432, InstancePort: 5432 }],
        }),
      ),
    );
    const lb = (await server.store.get("loadBalancer", "tcp-lb"))?.doc;
    assert.equal(lb?.listeners[0]?.protocol, "TCP");
    assert.equal(lb?.listeners[0]?.instanceProtocol, "TCP");
  });

  test("internal scheme gets the internal- DNS prefix", async () => {
    const out = await elb.send(new CreateLoadBalancerCommand(createInput("inner", { Scheme: "internal" })));
    assert.match(out.DNSName ?? "", /^internal-inner-\d{10}\.us-east-1\.elb\.ballast\.test$/);
  });

  test("CreateLoadBalancer rejects invalid requests with AWS codes", async () => {
    const send = (input: CreateLoadBalancerCommandInput) => () =>
      elb.send(new CreateLoadBalancerCommand(input));
    assert.match(await rejects(send(createInput("a".repeat(33))), "ValidationError"), /longer than 32/);
    await rejects(send(createInput("bad_name")), "ValidationError");
    await rejects(send(createInput("-edge")), "ValidationError");
    assert.match(
      await rejects(send(createInput("nolisteners", { Listeners: [] })), "ValidationError"),
      /must not be null/,
    );
    await rejects(send(createInput("port0", { Listeners: [http(0)] })), "ValidationError");
    await rejects(send(createInput("bigport", { Listeners: [http(80, 70000)] })), "ValidationError");
    await rejects(
      send(createInput("proto", { Listeners: [{ Protocol: "UDP", LoadBalancerPort: 1, InstancePort: 1 }] })),
      "ValidationError",
    );
    await rejects(
      send(
        createInput("mix", {
          Listeners: [{ Protocol: "HTTP", LoadBalancerPort: 80, InstanceProtocol: "TCP", InstancePort: 1 }],
        }),
      ),
      "ValidationError",
    );
    await rejects(send(createInput("dup", { Listeners: [http(80), http(80, 81)] })), "DuplicateListener");
    await rejects(
      send(
        createInput("tls", {
          Listeners: [
            {
              Protocol: "HTTPS",
              LoadBalancerPort: 443,
              InstancePort: 80,
              SSLCertificateId: "arn:aws:iam::1:server-certificate/x",
            },
          ],
        }),
      ),
      "CertificateNotFound",
    );
    await rejects(
      send(
        createInput("tls2", { Listeners: [{ Protocol: "HTTPS", LoadBalancerPort: 443, InstancePort: 80 }] }),
      ),
      "ValidationError",
    );
    assert.match(
      await rejects(send(createInput("noaz", { AvailabilityZones: [] })), "ValidationError"),
      /Either AvailabilityZones or SubnetIds/,
    );
    await rejects(
      send(createInput("farzone", { AvailabilityZones: ["eu-west-1a"] })),
      "InvalidConfigurationRequest",
      409,
    );
    await rejects(
      send(createInput("sub", { AvailabilityZones: [], Subnets: ["subnet-1"] })),
      "SubnetNotFound",
    );
    await rejects(send(createInput("both", { Subnets: ["subnet-1"] })), "ValidationError");
    await rejects(send(createInput("sg", { SecurityGroups: ["sg-1"] })), "InvalidSecurityGroup");
    await rejects(send(createInput("scheme", { Scheme: "public" })), "InvalidScheme");
    await rejects(send(createInput("tags", { Tags: [{ Key: "a" }, { Key: "a" }] })), "DuplicateTagKeys");
    const many = Array.from({ length: 11 }, (_, i) => ({ Key: `k${i}` }));
    await rejects(send(createInput("tags2", { Tags: many })), "TooManyTags");
  });

  test("a reader credential cannot mutate; an unknown key is InvalidClientTokenId", async () => {
    const reader = server.client(READER_KEY);
    await rejects(() => reader.send(new CreateLoadBalancerCommand(createInput("ro"))), "AccessDenied", 403);
    await reader.send(new DescribeLoadBalancersCommand({}));
    const stranger = server.client("AKIDUNKNOWN00000");
    await rejects(() => stranger.send(new DescribeLoadBalancersCommand({})), "InvalidClientTokenId", 403);
  });

  test("DescribeLoadBalancers returns the full description", async () => {
    const out = await elb.send(new DescribeLoadBalancersCommand({ LoadBalancerNames: ["web"] }));
    const d = out.LoadBalancerDescriptions?.[0];
    assert.equal(out.LoadBalancerDescriptions?.length, 1);
    assert.equal(d?.LoadBalancerName, "web");
    assert.equal(d?.CanonicalHostedZoneName, d?.DNSName);
    assert.equal(d?.CanonicalHostedZoneNameID, "ZBALLASTUSEAST1");
    assert.deepEqual(d?.ListenerDescriptions, [
      {
        Listener: { Protocol: "HTTP", LoadBalancerPort: 80, InstanceProtocol: "HTTP", InstancePort: 8080 },
        PolicyNames: [],
      },
    ]);
    assert.deepEqual(d?.Policies, {
      AppCookieStickinessPolicies: [],
      LBCookieStickinessPolicies: [],
      OtherPolicies: [],
    });
    assert.deepEqual(d?.BackendServerDescriptions, []);
    assert.deepEqual(d?.AvailabilityZones, ["us-east-1a"]);
    // Created with AvailabilityZones: in the region's default VPC, in the zone's default subnet.
    const vpc = defaultVpc("us-east-1", []);
    assert.deepEqual(d?.Subnets, [vpc.subnetFor("us-east-1a")]);
    assert.equal(d?.VPCId, vpc.vpcId);
    assert.deepEqual(d?.Instances, []);
    assert.deepEqual(d?.HealthCheck, {
      Target: "TCP:8080",
      Interval: 30,
      Timeout: 5,
      UnhealthyThreshold: 2,
      HealthyThreshold: 10,
    });
    assert.deepEqual(d?.SourceSecurityGroup, { OwnerAlias: "000000000000", GroupName: "default" });
    assert.deepEqual(d?.SecurityGroups, [vpc.securityGroupId]);
    assert.ok(d?.CreatedTime instanceof Date && Math.abs(d.CreatedTime.getTime() - Date.now()) < 60_000);
    assert.equal(d?.Scheme, "internet-facing");
    await rejects(
      () => elb.send(new DescribeLoadBalancersCommand({ LoadBalancerNames: ["web", "nope"] })),
      "LoadBalancerNotFound",
    );
    const err = await sdkError(() =>
      elb.send(new DescribeLoadBalancersCommand({ LoadBalancerNames: ["nope"] })),
    );
    assert.equal(err.name, "AccessPointNotFoundException");
  });

  test("DescribeLoadBalancers paginates with Marker and PageSize", async () => {
    for (const n of ["page-a", "page-b", "page-c", "page-d", "page-e"])
      await elb.send(new CreateLoadBalancerCommand(createInput(n)));
    const all = (await elb.send(new DescribeLoadBalancersCommand({}))).LoadBalancerDescriptions?.map(
      (d) => d.LoadBalancerName,
    );
    const seen: string[] = [];
    let marker: string | undefined;
    let pages = 0;
    do {
      const out = await elb.send(new DescribeLoadBalancersCommand({ PageSize: 2, Marker: marker }));
      assert.ok((out.LoadBalancerDescriptions?.length ?? 0) <= 2);
      for (const d of out.LoadBalancerDescriptions ?? []) seen.push(d.LoadBalancerName ?? "");
      marker = out.NextMarker;
      pages++;
    } while (marker);
    assert.deepEqual(seen, all);
    assert.equal(pages, Math.ceil((all?.length ?? 0) / 2));
    await rejects(() => elb.send(new DescribeLoadBalancersCommand({ PageSize: 0 })), "ValidationError");
    await rejects(() => elb.send(new DescribeLoadBalancersCommand({ PageSize: 401 })), "ValidationError");
  });

  test("Register and Deregister instances", async () => {
    const reg = await elb.send(
      new RegisterInstancesWithLoadBalancerCommand({
        LoadBalancerName: "web",
        Instances: [{ InstanceId: "i-0001" }, { InstanceId: "10.1.2.3" }],
      }),
    );
    assert.deepEqual(reg.Instances, [{ InstanceId: "i-0001" }, { InstanceId: "10.1.2.3" }]);
    const head = await server.store.head();
    const again = await elb.send(
      new RegisterInstancesWithLoadBalancerCommand({
        LoadBalancerName: "web",
        Instances: [{ InstanceId: "i-0001" }],
      }),
    );
    assert.deepEqual(again.Instances, reg.Instances);
    assert.equal(await server.store.head(), head, "registering a registered instance is a no-op");
    await rejects(
      () =>
        elb.send(
          new RegisterInstancesWithLoadBalancerCommand({
            LoadBalancerName: "web",
            Instances: [{ InstanceId: "i-0002" }, { InstanceId: "i-missing" }],
          }),
        ),
      "InvalidInstance",
    );
    await rejects(
      () =>
        elb.send(
          new RegisterInstancesWithLoadBalancerCommand({
            LoadBalancerName: "nope",
            Instances: [{ InstanceId: "i-0001" }],
          }),
        ),
      "LoadBalancerNotFound",
    );
    await rejects(
      () =>
        elb.send(
          new DeregisterInstancesFromLoadBalancerCommand({
            LoadBalancerName: "web",
            Instances: [{ InstanceId: "i-0002" }],
          }),
        ),
      "InvalidInstance",
    );
    const dereg = await elb.send(
      new DeregisterInstancesFromLoadBalancerCommand({
        LoadBalancerName: "web",
        Instances: [{ InstanceId: "10.1.2.3" }],
      }),
    );
    assert.deepEqual(dereg.Instances, [{ InstanceId: "i-0001" }]);
    const d = (await elb.send(new DescribeLoadBalancersCommand({ LoadBalancerNames: ["web"] })))
      .LoadBalancerDescriptions?.[0];
    assert.deepEqual(d?.Instances, [{ InstanceId: "i-0001" }]);
  });

  test("ConfigureHealthCheck validates and stores the check", async () => {
    const hc = {
      Target: "HTTP:8080/health",
      Interval: 10,
      Timeout: 3,
      UnhealthyThreshold: 3,
      HealthyThreshold: 2,
    };
    const out = await elb.send(new ConfigureHealthCheckCommand({ LoadBalancerName: "web", HealthCheck: hc }));
    assert.deepEqual(out.HealthCheck, hc);
    assert.equal((await server.store.get("loadBalancer", "web"))?.doc.healthCheck.target, "HTTP:8080/health");
    const bad = (over: Partial<typeof hc>) => () =>
      elb.send(new ConfigureHealthCheckCommand({ LoadBalancerName: "web", HealthCheck: { ...hc, ...over } }));
    assert.match(await rejects(bad({ Interval: 4 }), "ValidationError"), /greater than or equal to 5/);
    await rejects(bad({ Interval: 301 }), "ValidationError");
    await rejects(bad({ Timeout: 1 }), "ValidationError");
    await rejects(bad({ Timeout: 61, Interval: 300 }), "ValidationError");
    assert.match(await rejects(bad({ Timeout: 10, Interval: 10 }), "ValidationError"), /less than Interval/);
    await rejects(bad({ UnhealthyThreshold: 1 }), "ValidationError");
    await rejects(bad({ HealthyThreshold: 11 }), "ValidationError");
    await rejects(bad({ Target: "HTTP:8080" }), "ValidationError");
    await rejects(bad({ Target: "TCP:0" }), "ValidationError");
    await rejects(bad({ Target: "TCP:65536" }), "ValidationError");
    await rejects(bad({ Target: "UDP:53" }), "ValidationError");
    await rejects(
      () => elb.send(new ConfigureHealthCheckCommand({ LoadBalancerName: "nope", HealthCheck: hc })),
      "LoadBalancerNotFound",
    );
  });

  test("DescribeInstanceHealth aggregates fresh agent reports", async () => {
    await elb.send(
      new CreateLoadBalancerCommand(
        createInput("health", { AvailabilityZones: ["us-east-1a", "us-east-1b"] }),
      ),
    );
    await elb.send(
      new RegisterInstancesWithLoadBalancerCommand({
        LoadBalancerName: "health",
        Instances: [{ InstanceId: "i-0001" }, { InstanceId: "i-0002" }, { InstanceId: "10.9.9.9" }],
      }),
    );
    const report = (agentId: string, time: string, state: "InService" | "OutOfService", instanceId: string) =>
      server.store.putAgentStatus({
        agentId,
        zone: "us-east-1a",
        configRevision: 1,
        nodes: [],
        unexplained: [],
        time,
        health: [
          {
            loadBalancer: "health",
            instanceId,
            state,
            reasonCode: state === "InService" ? "N/A" : "Instance",
            description:
              state === "InService"
                ? "N/A"
                : "Instance has failed at least the UnhealthyThreshold number of health checks consecutively.",
          },
        ],
      });
    const now = new Date().toISOString();
    await report("agent-1", now, "InService", "i-0001");
    await report("agent-2", now, "OutOfService", "i-0002");
    // A stale report is not evidence: 10.9.9.9 stays "registration in progress".
    await report("agent-3", new Date(Date.now() - 60_000).toISOString(), "InService", "10.9.9.9");
    const out = await elb.send(new DescribeInstanceHealthCommand({ LoadBalancerName: "health" }));
    assert.deepEqual(out.InstanceStates, [
      { InstanceId: "i-0001", State: "InService", ReasonCode: "N/A", Description: "N/A" },
      {
        InstanceId: "i-0002",
        State: "OutOfService",
        ReasonCode: "Instance",
        Description:
          "Instance has failed at least the UnhealthyThreshold number of health checks consecutively.",
      },
      {
        InstanceId: "10.9.9.9",
        State: "OutOfService",
        ReasonCode: "ELB",
        Description: "Instance registration is still in progress.",
      },
    ]);
    const one = await elb.send(
      new DescribeInstanceHealthCommand({ LoadBalancerName: "web", Instances: [{ InstanceId: "i-0002" }] }),
    );
    assert.equal(
      one.InstanceStates?.[0]?.Description,
      "Instance is not currently registered with the LoadBalancer.",
    );
    await rejects(
      () =>
        elb.send(
          new DescribeInstanceHealthCommand({
            LoadBalancerName: "health",
            Instances: [{ InstanceId: "i-missing" }],
          }),
        ),
      "InvalidInstance",
    );
    await rejects(
      () => elb.send(new DescribeInstanceHealthCommand({ LoadBalancerName: "nope" })),
      "LoadBalancerNotFound",
    );
  });

  test("DeleteLoadBalancer deletes, and deleting a missing one succeeds with no revision", async () => {
    await elb.send(new CreateLoadBalancerCommand(createInput("gone")));
    await elb.send(new DeleteLoadBalancerCommand({ LoadBalancerName: "gone" }));
    assert.equal(await server.store.get("loadBalancer", "gone"), undefined);
    const history = await server.store.history("loadBalancer", "gone");
    assert.equal(history.at(-1)?.doc, null, "a delete is a tombstone");
    const head = await server.store.head();
    await elb.send(new DeleteLoadBalancerCommand({ LoadBalancerName: "gone" }));
    assert.equal(await server.store.head(), head);
  });
});

describe("TooManyLoadBalancers", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ maxLoadBalancers: 1 });
  });
  after(() => server.close());

  test("the quota is enforced", async () => {
    const elb = server.client();
    await elb.send(new CreateLoadBalancerCommand(createInput("one")));
    const head = await server.store.head();
    const err = await sdkError(() => elb.send(new CreateLoadBalancerCommand(createInput("two"))));
    assert.equal(err.code, "TooManyLoadBalancers");
    assert.equal(
      err.name,
      "TooManyAccessPointsException",
      "the SDK maps the wire code to its modelled exception",
    );
    assert.equal(err.status, 400);
    assert.equal(await server.store.head(), head);
  });
});
