/** The wire format itself: XML shape, protocol errors, auth ordering, limits. */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { ADMIN_KEY, authHeader, postForm, SECRET, startTestServer, type TestServer } from "./support.js";

const NS = 'xmlns="http://elasticloadbalancing.amazonaws.com/doc/2012-06-01/"';
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;

describe("AWS Query wire format", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  const create = {
    Action: "CreateLoadBalancer",
    Version: "2012-06-01",
    LoadBalancerName: "raw",
    "Listeners.member.1.Protocol": "HTTP",
    "Listeners.member.1.LoadBalancerPort": "80",
    "Listeners.member.1.InstancePort": "8080",
    "Listeners.member.2.Protocol": "TCP",
    "Listeners.member.2.LoadBalancerPort": "5000",
    "Listeners.member.2.InstancePort": "5000",
    "AvailabilityZones.member.1": "us-east-1a",
    "Tags.member.1.Key": "note",
    "Tags.member.1.Value": "a b",
  };

  test("a result document has the action envelope, namespace and RequestId", async () => {
    const res = await postForm(server.url, create);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "text/xml");
    const id = res.headers.get("x-amzn-requestid") ?? "";
    assert.match(id, UUID);
    assert.match(
      res.body,
      new RegExp(
        `^<CreateLoadBalancerResponse ${NS}><CreateLoadBalancerResult><DNSName>raw-\\d{10}\\.us-east-1\\.elb\\.ballast\\.test</DNSName></CreateLoadBalancerResult><ResponseMetadata><RequestId>${id}</RequestId></ResponseMetadata></CreateLoadBalancerResponse>\\n$`,
      ),
    );
    const rev = await server.store.revision(await server.store.head());
    assert.equal(rev?.requestId, id, "the revision records the response RequestId");
  });

  test("lists are <member> elements and empty lists are empty elements", async () => {
    const res = await postForm(server.url, {
      Action: "DescribeLoadBalancers",
      Version: "2012-06-01",
      "LoadBalancerNames.member.1": "raw",
    });
    assert.equal(res.status, 200);
    assert.match(res.body, /<LoadBalancerDescriptions><member><LoadBalancerName>raw<\/LoadBalancerName>/);
    assert.match(
      res.body,
      /<ListenerDescriptions><member><Listener><Protocol>HTTP<\/Protocol>.*?<\/Listener><PolicyNames\/><\/member><member>/,
    );
    assert.match(res.body, /<AvailabilityZones><member>us-east-1a<\/member><\/AvailabilityZones>/);
    assert.match(res.body, /<Instances\/>/);
    assert.match(res.body, /<CreatedTime>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z<\/CreatedTime>/);
    // In the default VPC (EC2-Classic is retired): VPCId, a default subnet and security group.
    assert.match(
      res.body,
      /<Subnets><member>subnet-[0-9a-f]{17}<\/member><\/Subnets><VPCId>vpc-[0-9a-f]{17}<\/VPCId>/,
    );
    assert.match(res.body, /<SecurityGroups><member>sg-[0-9a-f]{17}<\/member><\/SecurityGroups>/);
    assert.doesNotMatch(res.body, /NextMarker/);
  });

  test("an error document carries Type, Code, Message, RequestId and the status", async () => {
    const res = await postForm(server.url, { Action: "DeleteLoadBalancer", Version: "2012-06-01" });
    assert.equal(res.status, 400);
    const id = res.headers.get("x-amzn-requestid") ?? "";
    assert.equal(
      res.body,
      `<ErrorResponse ${NS}><Error><Type>Sender</Type><Code>ValidationError</Code><Message>1 validation error detected: Value null at &apos;loadBalancerName&apos; failed to satisfy constraint: Member must not be null</Message></Error><RequestId>${id}</RequestId></ErrorResponse>\n`,
    );
  });

  test("text is XML-escaped", async () => {
    const res = await postForm(server.url, {
      Action: "DescribeInstanceHealth",
      Version: "2012-06-01",
      LoadBalancerName: 'x<y&z"',
    });
    assert.equal(res.status, 400);
    assert.match(
      res.body,
      /<Code>LoadBalancerNotFound<\/Code><Message>There is no ACTIVE Load Balancer named &apos;x&lt;y&amp;z&quot;&apos;<\/Message>/,
    );
  });

  test("MissingAction, InvalidAction and a wrong or missing Version", async () => {
    const missing = await postForm(server.url, { Version: "2012-06-01" });
    assert.equal(missing.status, 400);
    assert.match(missing.body, /<Code>MissingAction<\/Code>/);
    const unknown = await postForm(server.url, { Action: "LaunchRockets", Version: "2012-06-01" });
    assert.equal(unknown.status, 400);
    assert.match(
      unknown.body,
      /<Code>InvalidAction<\/Code><Message>Could not find operation LaunchRockets for version 2012-06-01/,
    );
    const wrong = await postForm(server.url, { Action: "DescribeLoadBalancers", Version: "2015-12-01" });
    assert.match(
      wrong.body,
      /<Code>InvalidAction<\/Code><Message>Could not find operation DescribeLoadBalancers for version 2015-12-01/,
    );
    const none = await postForm(server.url, { Action: "DescribeLoadBalancers" });
    assert.match(none.body, /<Code>InvalidAction<\/Code>.*NO_VERSION_SPECIFIED/);
  });

  test("authentication is checked before the action is parsed", async () => {
    const head = await server.store.head();
    const res = await postForm(server.url, { Action: "LaunchRockets" }, {});
    assert.equal(res.status, 403);
    assert.match(res.body, /<Code>MissingAuthenticationToken<\/Code>/);
    const bad = await postForm(server.url, create, { authorization: authHeader("AKIDNOBODY") });
    assert.equal(bad.status, 403);
    assert.match(bad.body, /<Code>InvalidClientTokenId<\/Code>/);
    assert.equal(await server.store.head(), head);
  });

  test("GET with a query string works like POST", async () => {
    const res = await fetch(`${server.url}/?Action=DescribeLoadBalancers&Version=2012-06-01`, {
      headers: { authorization: authHeader() },
    });
    assert.equal(res.status, 200);
    assert.match(await res.text(), /^<DescribeLoadBalancersResponse /);
  });

  test("a body over 1 MiB is refused with 413", async () => {
    const res = await postForm(server.url, {
      Action: "DescribeLoadBalancers",
      Pad: "x".repeat(1024 * 1024 + 10),
    });
    assert.equal(res.status, 413);
    assert.match(res.body, /<Code>RequestEntityTooLarge<\/Code>/);
  });

  test("a non-integer integer member is a ValidationError", async () => {
    const res = await postForm(server.url, {
      Action: "DescribeLoadBalancers",
      Version: "2012-06-01",
      PageSize: "ten",
    });
    assert.equal(res.status, 400);
    assert.match(res.body, /<Code>ValidationError<\/Code>/);
  });

  test("an unexpected exception is InternalFailure 500 and the server keeps serving", async () => {
    const original = server.store.list.bind(server.store);
    server.store.list = () => Promise.reject(new Error("disk on fire"));
    try {
      const res = await postForm(server.url, { Action: "DescribeLoadBalancers", Version: "2012-06-01" });
      assert.equal(res.status, 500);
      assert.match(res.body, /<Type>Receiver<\/Type><Code>InternalFailure<\/Code>/);
      assert.doesNotMatch(res.body, /disk on fire/);
    } finally {
      server.store.list = original;
    }
    const ok = await postForm(server.url, { Action: "DescribeLoadBalancers", Version: "2012-06-01" });
    assert.equal(ok.status, 200);
  });

  test("boto3 parses CreateLoadBalancer and DescribeLoadBalancers", async () => {
    const script = `
import boto3, json
c = boto3.client("elb", endpoint_url=${JSON.stringify(server.url)}, region_name="us-east-1")
out = c.create_load_balancer(LoadBalancerName="boto", Listeners=[{"Protocol": "HTTP", "LoadBalancerPort": 80, "InstancePort": 8080}], AvailabilityZones=["us-east-1b"], Tags=[{"Key": "k", "Value": "v"}])
d = c.describe_load_balancers(LoadBalancerNames=["boto"])["LoadBalancerDescriptions"][0]
try:
    c.describe_load_balancers(LoadBalancerNames=["missing"])
    err = None
except c.exceptions.AccessPointNotFoundException as e:
    err = [e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]]
print(json.dumps({"dns": out["DNSName"], "name": d["LoadBalancerName"], "created": d["CreatedTime"].isoformat(),
  "hc": d["HealthCheck"], "listeners": d["ListenerDescriptions"], "azs": d["AvailabilityZones"], "err": err}))
`;
    const { stdout } = await promisify(execFile)("python3", ["-c", script], {
      env: {
        ...process.env,
        AWS_ACCESS_KEY_ID: ADMIN_KEY,
        AWS_SECRET_ACCESS_KEY: SECRET,
        AWS_CONFIG_FILE: "/dev/null",
        AWS_SHARED_CREDENTIALS_FILE: "/dev/null",
      },
    });
    const out = JSON.parse(stdout) as Record<string, unknown>;
    assert.match(String(out.dns), /^boto-\d{10}\.us-east-1\.elb\.ballast\.test$/);
    assert.equal(out.name, "boto");
    assert.match(String(out.created), /^\d{4}-\d\d-\d\dT/);
    assert.deepEqual(out.hc, {
      Target: "TCP:8080",
      Interval: 30,
      Timeout: 5,
      UnhealthyThreshold: 2,
      HealthyThreshold: 10,
    });
    assert.deepEqual(out.listeners, [
      {
        Listener: { Protocol: "HTTP", LoadBalancerPort: 80, InstanceProtocol: "HTTP", InstancePort: 8080 },
        PolicyNames: [],
      },
    ]);
    assert.deepEqual(out.azs, ["us-east-1b"]);
    assert.deepEqual(out.err, ["LoadBalancerNotFound", 400]);
  });
});
