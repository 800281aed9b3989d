/**
 * Every row of AWS_ERRORS, through the real AWS Query error path: an authenticator that throws
 * the row's BallastError makes createAwsQueryHandler render it as AWS does. Each row is checked
 * for its HTTP status, its fault Type and the exact <ErrorResponse> document, on the wire and
 * as the AWS SDK reads it. A row added to the table is tested here without touching this file.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  DescribeLoadBalancersCommand,
  ElasticLoadBalancingClient,
} from "@aws-sdk/client-elastic-load-balancing";
import type { Authenticator } from "../../src/api/auth/authenticator.js";
import { createAwsQueryHandler } from "../../src/api/aws-query/handler.js";
import { AWS_ERRORS, type AwsErrorCode, BallastError } from "../../src/model/errors.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { silentLogger } from "../../src/util/logger.js";
import { authHeader, postForm, sdkError } from "./support.js";

const NS = "http://elasticloadbalancing.amazonaws.com/doc/2012-06-01/";
const CODES = Object.keys(AWS_ERRORS) as AwsErrorCode[];

function isCode(s: string): s is AwsErrorCode {
  return Object.hasOwn(AWS_ERRORS, s);
}

/** The message each row's error carries: XML-special characters, to check they are escaped. */
function message(code: string): string {
  return `${code} <for> "the" 'table' & test`;
}
const ESCAPED = (code: string): string => `${code} &lt;for&gt; &quot;the&quot; &apos;table&apos; &amp; test`;

/** Throws the BallastError named by the request's access key id. */
const throwingAuthenticator: Authenticator = {
  async authenticate(request) {
    return (await this.authenticateHead(request)).verify("");
  },
  async authenticateHead(request) {
    const id = /Credential=([^/,\s]+)\//.exec(request.headers.authorization ?? "")?.[1] ?? "";
    if (!isCode(id)) throw new Error(`the test sent an unknown code ${id}`);
    throw new BallastError(id, message(id));
  },
};

describe("AWS_ERRORS, row by row, through the AWS Query handler", () => {
  let server: Server;
  let store: SqliteStore;
  let url = "";
  const dir = mkdtempSync(join(tmpdir(), "ballast-error-table-"));

  before(async () => {
    store = new SqliteStore(join(dir, "ballast.db"));
    const handler = createAwsQueryHandler({
      store,
      authenticator: throwingAuthenticator,
      logger: silentLogger,
      zones: ["us-east-1a"],
      dnsDomain: "ballast.test",
    });
    server = createServer(handler);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("has rows, each with an error status and a fault type that matches it", () => {
    assert.ok(CODES.length > 40, `${CODES.length} rows`);
    for (const code of CODES) {
      const { status, type } = AWS_ERRORS[code];
      assert.ok(status >= 400 && status <= 599, `${code}: status ${status}`);
      assert.equal(type, status >= 500 ? "Receiver" : "Sender", `${code}: ${status} is a ${type} fault`);
    }
  });

  for (const code of CODES) {
    const { status, type } = AWS_ERRORS[code];

    it(`${code}: ${status}, ${type}`, async () => {
      const err = new BallastError(code, message(code));
      assert.equal(err.code, code);
      assert.equal(err.status, status);
      assert.equal(err.faultType, type);

      const res = await postForm(
        url,
        { Action: "DescribeLoadBalancers", Version: "2012-06-01" },
        { authorization: authHeader(code) },
      );
      assert.equal(res.status, status);
      assert.equal(res.headers.get("content-type"), "text/xml");
      const requestId = res.headers.get("x-amzn-requestid") ?? "";
      assert.match(requestId, /^[0-9a-f-]{36}$/);
      assert.equal(
        res.body,
        `<ErrorResponse xmlns="${NS}"><Error><Type>${type}</Type><Code>${code}</Code>` +
          `<Message>${ESCAPED(code)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>\n`,
      );

      // What a client makes of it: the SDK reads the code, the status and the message.
      const client = new ElasticLoadBalancingClient({
        endpoint: url,
        region: "us-east-1",
        credentials: { accessKeyId: code, secretAccessKey: "unused" },
        maxAttempts: 1,
      });
      try {
        const e = await sdkError(() => client.send(new DescribeLoadBalancersCommand({})));
        assert.equal(e.status, status);
        assert.equal(e.code ?? e.name, code);
        assert.equal(e.message, message(code));
      } finally {
        client.destroy();
      }
    });
  }
});
