/**
 * SigV4 verification against what real clients send over a real socket: the AWS SDK for
 * JavaScript v3, the `aws` CLI and boto3 (including a boto3 presigned URL).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import {
  DescribeLoadBalancersCommand,
  ElasticLoadBalancingClient,
} from "@aws-sdk/client-elastic-load-balancing";
import { ACCESS_KEY_ID, authenticator, SECRET, startEndpoint, type TestEndpoint } from "./support.js";

const run = promisify(execFile);

const cleanEnv = (secret: string): NodeJS.ProcessEnv => ({
  PATH: process.env.PATH,
  HOME: process.env.HOME,
  AWS_ACCESS_KEY_ID: ACCESS_KEY_ID,
  AWS_SECRET_ACCESS_KEY: secret,
  AWS_CONFIG_FILE: "/dev/null",
  AWS_SHARED_CREDENTIALS_FILE: "/dev/null",
  AWS_EC2_METADATA_DISABLED: "true",
});

function sdkClient(endpoint: string, secret = SECRET): ElasticLoadBalancingClient {
  return new ElasticLoadBalancingClient({
    endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: secret },
    maxAttempts: 3,
  });
}

describe("SigV4 with real clients", () => {
  let endpoint: TestEndpoint;
  before(async () => {
    endpoint = await startEndpoint(authenticator());
  });
  after(async () => {
    await endpoint.close();
  });

  test("AWS SDK v3 ElasticLoadBalancingClient authenticates", async () => {
    const client = sdkClient(endpoint.url);
    try {
      const out = await client.send(new DescribeLoadBalancersCommand({}));
      assert.deepEqual(out.LoadBalancerDescriptions, []);
    } finally {
      client.destroy();
    }
    const last = endpoint.outcomes.at(-1);
    assert.equal(last?.ok, true);
    assert.equal(last?.method, "POST");
    assert.match(last?.body ?? "", /Action=DescribeLoadBalancers/);
  });

  test("AWS SDK v3 with a wrong secret gets SignatureDoesNotMatch", async () => {
    const client = sdkClient(endpoint.url, "wrong-secret-wrong-secret-wrong-secret-00");
    try {
      await assert.rejects(client.send(new DescribeLoadBalancersCommand({})), (e: Error) => {
        assert.equal(e.name, "SignatureDoesNotMatch");
        return true;
      });
    } finally {
      client.destroy();
    }
  });

  test("aws CLI authenticates", async () => {
    const before = endpoint.outcomes.length;
    const { stdout } = await run(
      "aws",
      ["elb", "describe-load-balancers", "--endpoint-url", endpoint.url, "--region", "us-east-1"],
      { env: cleanEnv(SECRET), timeout: 60_000 },
    );
    assert.deepEqual(JSON.parse(stdout), { LoadBalancerDescriptions: [] });
    const sent = endpoint.outcomes.slice(before);
    assert.equal(sent.length, 1);
    assert.equal(sent[0]?.ok, true);
    assert.match(
      String(sent[0]?.headers.authorization),
      /^AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE\//,
    );
  });

  test("aws CLI with a wrong secret is refused with SignatureDoesNotMatch", async () => {
    await assert.rejects(
      run(
        "aws",
        ["elb", "describe-load-balancers", "--endpoint-url", endpoint.url, "--region", "us-east-1"],
        {
          env: cleanEnv("wrong-secret-wrong-secret-wrong-secret-00"),
          timeout: 60_000,
        },
      ),
      (e: Error & { stderr?: string }) => {
        assert.match(e.stderr ?? "", /SignatureDoesNotMatch/);
        return true;
      },
    );
  });

  test("boto3 authenticates, and its presigned URL works with a plain GET", async () => {
    const script = [
      "import boto3, sys, json",
      "c = boto3.client('elb', endpoint_url=sys.argv[1], region_name='us-east-1',",
      "  aws_access_key_id=sys.argv[2], aws_secret_access_key=sys.argv[3])",
      "r = c.describe_load_balancers()",
      "url = c.generate_presigned_url('describe_load_balancers', Params={}, ExpiresIn=120, HttpMethod='GET')",
      "print(json.dumps({'lbs': r['LoadBalancerDescriptions'], 'url': url}))",
    ].join("\n");
    const { stdout } = await run("python3", ["-c", script, endpoint.url, ACCESS_KEY_ID, SECRET], {
      env: cleanEnv(SECRET),
      timeout: 60_000,
    });
    const out = JSON.parse(stdout) as { lbs: unknown[]; url: string };
    assert.deepEqual(out.lbs, []);
    assert.equal(endpoint.outcomes.at(-1)?.ok, true);
    assert.match(out.url, /X-Amz-Signature=/);
    const res = await fetch(out.url);
    await res.text();
    assert.equal(res.status, 200, JSON.stringify(endpoint.outcomes.at(-1)));
  });
});

describe("SigV4 clock skew, as the SDK sees it", () => {
  const serverNow = () => new Date(Date.now() + 10 * 60_000);
  let endpoint: TestEndpoint;
  before(async () => {
    endpoint = await startEndpoint(authenticator(serverNow), serverNow);
  });
  after(async () => {
    await endpoint.close();
  });

  test("the SDK recognises 'Signature expired', corrects its clock from Date and retries", async () => {
    const client = sdkClient(endpoint.url);
    try {
      await client.send(new DescribeLoadBalancersCommand({}));
    } finally {
      client.destroy();
    }
    const [first, second] = endpoint.outcomes;
    assert.equal(first?.ok, false);
    assert.equal(first?.code, "SignatureDoesNotMatch");
    assert.match(first?.message ?? "", /^Signature expired: \d{8}T\d{6}Z is now earlier than/);
    assert.equal(second?.ok, true);
  });
});
