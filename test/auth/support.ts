/**
 * A tiny ELB-shaped HTTP endpoint for auth tests: every request goes through the authenticator;
 * success answers an empty DescribeLoadBalancers, failure the AWS Query error document. Each
 * outcome is recorded so a test can see what a real client sent and how it was judged.
 */
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Authenticator, SignedRequest } from "../../src/api/auth/authenticator.js";
import { SigV4Authenticator } from "../../src/api/auth/sigv4.js";
import { isBallastError } from "../../src/model/errors.js";
import type { Credential } from "../../src/model/types.js";

export const ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE";
export const SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

export const ADMIN: Credential = {
  accessKeyId: ACCESS_KEY_ID,
  secretAccessKey: SECRET,
  principal: "admin",
  role: "admin",
  createdTime: "2026-01-01T00:00:00.000Z",
};

export const lookup = async (id: string): Promise<Credential | undefined> =>
  id === ACCESS_KEY_ID ? ADMIN : undefined;

export function authenticator(now?: () => Date): SigV4Authenticator {
  return new SigV4Authenticator({
    lookup,
    service: "elasticloadbalancing",
    ...(now ? { now } : {}),
  });
}

export interface Outcome {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly ok: boolean;
  readonly code?: string;
  readonly message?: string;
}

export interface TestEndpoint {
  readonly url: string;
  readonly port: number;
  readonly outcomes: Outcome[];
  close(): Promise<void>;
}

const NS = "http://elasticloadbalancing.amazonaws.com/doc/2012-06-01/";

function xmlEscape(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** `serverNow` sets the Date response header, the clock the SDKs correct their skew against. */
export async function startEndpoint(auth: Authenticator, serverNow?: () => Date): Promise<TestEndpoint> {
  const outcomes: Outcome[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const signed: SignedRequest = {
        method: req.method ?? "GET",
        url: req.url ?? "/",
        headers: req.headers,
        body,
      };
      const base = { method: signed.method, url: signed.url, headers: req.headers, body: body.toString() };
      if (serverNow) res.setHeader("Date", serverNow().toUTCString());
      auth.authenticate(signed).then(
        () => {
          outcomes.push({ ...base, ok: true });
          res.writeHead(200, { "content-type": "text/xml" });
          res.end(
            `<DescribeLoadBalancersResponse xmlns="${NS}"><DescribeLoadBalancersResult>` +
              "<LoadBalancerDescriptions/></DescribeLoadBalancersResult>" +
              "<ResponseMetadata><RequestId>11111111-2222-3333-4444-555555555555</RequestId>" +
              "</ResponseMetadata></DescribeLoadBalancersResponse>",
          );
        },
        (e: unknown) => {
          const code = isBallastError(e) ? e.code : "InternalFailure";
          const message = e instanceof Error ? e.message : String(e);
          outcomes.push({ ...base, ok: false, code, message });
          res.writeHead(isBallastError(e) ? e.status : 500, { "content-type": "text/xml" });
          res.end(
            `<ErrorResponse xmlns="${NS}"><Error><Type>Sender</Type><Code>${code}</Code>` +
              `<Message>${xmlEscape(message)}</Message></Error>` +
              "<RequestId>11111111-2222-3333-4444-555555555555</RequestId></ErrorResponse>",
          );
        },
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    outcomes,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
