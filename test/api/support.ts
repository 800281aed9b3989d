/** A real HTTP server around the AWS Query and admin handlers, on a temp-file SQLite store. */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ElasticLoadBalancingClient } from "@aws-sdk/client-elastic-load-balancing";
import { createAdminHandler } from "../../src/api/admin/handler.js";
import type { AuditSink } from "../../src/api/auth/audit-log.js";
import type { Authenticator, RequestHead, SignedRequest } from "../../src/api/auth/authenticator.js";
import type { ChangeControl } from "../../src/api/auth/change-control.js";
import { createAwsQueryHandler } from "../../src/api/aws-query/handler.js";
import { BallastError } from "../../src/model/errors.js";
import type { SafetyControl } from "../../src/model/guard.js";
import type { Credential } from "../../src/model/types.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import type { TrafficHistory } from "../../src/store/traffic-history.js";
import { silentLogger } from "../../src/util/logger.js";

export const ZONES = ["us-east-1a", "us-east-1b"] as const;
export const ADMIN_KEY = "AKIDADMIN0000000";
export const READER_KEY = "AKIDREADER000000";
/** A second administrator (principal bob): the other person of the two-person rule. */
export const SECOND_ADMIN_KEY = "AKIDADMINBOB0000";
export const SECRET = "secret-not-checked-by-the-test-authenticator";

const CREDENTIALS: ReadonlyMap<string, Credential> = new Map([
  [ADMIN_KEY, cred(ADMIN_KEY, "alice", "admin")],
  [READER_KEY, cred(READER_KEY, "rita", "reader")],
  [SECOND_ADMIN_KEY, cred(SECOND_ADMIN_KEY, "bob", "admin")],
]);

function cred(accessKeyId: string, principal: string, role: Credential["role"]): Credential {
  return { accessKeyId, secretAccessKey: SECRET, principal, role, createdTime: "2026-01-01T00:00:00.000Z" };
}

/**
 * Accepts a request whose Authorization header names a known access key id, in the region of its
 * credential scope; SigV4 itself is verified by src/api/auth/sigv4.ts and tested there.
 */
export const testAuthenticator: Authenticator = {
  async authenticate(request: SignedRequest) {
    return (await this.authenticateHead(request)).verify("");
  },
  async authenticateHead(request: RequestHead) {
    const header = request.headers.authorization;
    if (!header)
      throw new BallastError("MissingAuthenticationToken", "Request is missing Authentication Token");
    const scope = /Credential=([^/,\s]+)\/\d+\/([^/,\s]+)\//.exec(header);
    const id = scope?.[1];
    const credential = id === undefined ? undefined : CREDENTIALS.get(id);
    if (!credential)
      throw new BallastError(
        "InvalidClientTokenId",
        "The security token included in the request is invalid.",
      );
    const region = scope?.[2] ?? "us-east-1";
    return { presigned: false, declaredPayloadHash: undefined, verify: () => ({ credential, region }) };
  },
};

export interface TestServer {
  readonly url: string;
  readonly store: SqliteStore;
  /** An SDK client signing for `region` (default us-east-1). */
  client(accessKeyId?: string, region?: string): ElasticLoadBalancingClient;
  close(): Promise<void>;
}

export async function startTestServer(
  opts: {
    maxLoadBalancers?: number;
    safety?: (store: SqliteStore) => SafetyControl;
    /** The agents' traffic figures the admin API reads (none: no stats, no agent load). */
    traffic?: TrafficHistory;
    /** Where calls are audited (default: nowhere). */
    audit?: (store: SqliteStore) => AuditSink;
    /** The two-person rule (default: one per handler on the store). */
    changeControl?: (store: SqliteStore) => ChangeControl;
  } = {},
): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), "ballast-api-"));
  const store = new SqliteStore(join(dir, "ballast.db"));
  const common = {
    store,
    authenticator: testAuthenticator,
    logger: silentLogger,
    zones: ZONES,
    ...(opts.audit === undefined ? {} : { audit: opts.audit(store) }),
    ...(opts.changeControl === undefined ? {} : { changeControl: opts.changeControl(store) }),
  };
  const query = createAwsQueryHandler({
    ...common,
    dnsDomain: "ballast.test",
    ...(opts.maxLoadBalancers === undefined ? {} : { maxLoadBalancers: opts.maxLoadBalancers }),
  });
  const admin = createAdminHandler({
    ...common,
    ...(opts.safety === undefined ? {} : { safety: opts.safety(store) }),
    ...(opts.traffic === undefined ? {} : { traffic: opts.traffic }),
  });
  const server: Server = createServer((req, res) => {
    if (req.url?.startsWith("/admin/")) admin(req, res);
    else query(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clients: ElasticLoadBalancingClient[] = [];
  return {
    url,
    store,
    client(accessKeyId = ADMIN_KEY, region = "us-east-1") {
      const c = new ElasticLoadBalancingClient({
        endpoint: url,
        region,
        credentials: { accessKeyId, secretAccessKey: SECRET },
        maxAttempts: 1,
      });
      clients.push(c);
      return c;
    },
    async close() {
      for (const c of clients) c.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A Send (test/support/tickets.ts) as the principal of `accessKeyId`, through the test authenticator. */
export function sender(
  url: string,
  accessKeyId = ADMIN_KEY,
): (
  method: string,
  path: string,
  body?: string,
  headers?: Readonly<Record<string, string>>,
) => Promise<{ status: number; body: string }> {
  return async (method, path, body, headers = {}) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: authHeader(accessKeyId), ...headers },
      ...(body === undefined || method === "GET" ? {} : { body }),
    });
    return { status: res.status, body: await res.text() };
  };
}

/** A signed-looking raw request: the test authenticator only reads the access key id. */
export function authHeader(accessKeyId = ADMIN_KEY, region = "us-east-1"): string {
  return `AWS4-HMAC-SHA256 Credential=${accessKeyId}/20260101/${region}/elasticloadbalancing/aws4_request, SignedHeaders=host, Signature=00`;
}

export async function postForm(
  url: string,
  params: Readonly<Record<string, string>>,
  headers: Readonly<Record<string, string>> = { authorization: authHeader() },
): Promise<{ status: number; body: string; headers: Headers }> {
  const res = await fetch(`${url}/`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded; charset=utf-8", ...headers },
    body: new URLSearchParams(params).toString(),
  });
  return { status: res.status, body: await res.text(), headers: res.headers };
}

/** Runs `fn`, expecting it to reject with an SDK service error; returns name and HTTP status. */
/** `code` is the wire code (`Code`); `name` is the SDK's exception class for modelled errors. */
export async function sdkError(
  fn: () => Promise<unknown>,
): Promise<{ name: string; code: string | undefined; status: number | undefined; message: string }> {
  try {
    await fn();
  } catch (e) {
    const err = e as {
      name: string;
      Code?: string;
      message: string;
      $metadata?: { httpStatusCode?: number };
    };
    return { name: err.name, code: err.Code, status: err.$metadata?.httpStatusCode, message: err.message };
  }
  throw new Error("expected the call to fail");
}
