/**
 * A SigV4-signing HTTP client for the `ballast` command: the same signature the AWS SDKs send,
 * so the CLI goes through exactly the authentication every other client does. It signs with
 * node:crypto and the canonical forms the server checks against (sigv4-canonical.ts) rather
 * than the AWS SDK's signer, whose modules alone took a quarter of a CLI call's start-up;
 * test/api/sigv4-client.test.ts holds it to the SDK signer's output.
 */
import { readFile } from "node:fs/promises";
import { request as httpRequest, type IncomingMessage, type RequestOptions } from "node:http";
import {
  ALGORITHM,
  amzDate,
  canonicalRequest,
  sha256Hex,
  signatureHex,
  signingKey,
  stringToSign,
  TERMINATOR,
} from "../api/auth/sigv4-canonical.js";
import { apiErrorOf, CliError } from "./errors.js";

export interface ClientCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

export interface SignedResponse {
  readonly status: number;
  readonly body: string;
}

const SERVICE = "elasticloadbalancing";

/**
 * The headers that sign a request: `host`, `x-amz-date`, `x-amz-content-sha256` (the body's
 * SHA-256: the server verifies the signature before it reads the body), the given ones, and
 * `authorization`.
 */
export function signRequest(input: {
  readonly method: string;
  readonly url: URL;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  readonly credentials: ClientCredentials;
  readonly region: string;
  readonly now?: Date;
}): Record<string, string> {
  const { url, credentials, region } = input;
  const date = amzDate(input.now ?? new Date());
  const day = date.slice(0, 8);
  const payloadHash = sha256Hex(Buffer.from(input.body, "utf8"));
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(input.headers)) headers[k.toLowerCase()] = v;
  headers.host = url.host;
  headers["x-amz-date"] = date;
  headers["x-amz-content-sha256"] = payloadHash;
  const names = Object.keys(headers).sort();
  const signedHeadersLine = names.join(";");
  const canonical = canonicalRequest({
    method: input.method,
    path: url.pathname,
    query: url.search.slice(1),
    signedHeaders: names.map((n) => [n, headers[n] ?? ""] as const),
    signedHeadersLine,
    payloadHash,
  });
  const scope = `${day}/${region}/${SERVICE}/${TERMINATOR}`;
  const signature = signatureHex(
    signingKey(credentials.secretAccessKey, day, region, SERVICE),
    stringToSign(date, scope, canonical),
  );
  headers.authorization = `${ALGORITHM} Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeadersLine}, Signature=${signature}`;
  return headers;
}

/** The two-person rule's headers a client sends on every request (cli/change-flags.ts). */
export interface ChangeAuthority {
  /** An approved change ticket: `x-ballast-ticket`. */
  readonly ticket?: string;
  /** Break-glass, with its reason: `x-ballast-break-glass`. */
  readonly breakGlass?: string;
}

export class SignedClient {
  readonly #endpoint: URL;
  readonly #credentials: ClientCredentials;
  readonly #region: string;
  /** The two-person rule's headers, signed with every request. */
  readonly #extra: Record<string, string>;

  constructor(
    endpoint: string,
    credentials: ClientCredentials,
    region = "us-east-1",
    authority: ChangeAuthority = {},
  ) {
    try {
      this.#endpoint = new URL(endpoint);
    } catch {
      throw new CliError(
        "InvalidEndpoint",
        `--endpoint must be a URL such as http://127.0.0.1:9700, got '${endpoint}'`,
      );
    }
    this.#credentials = credentials;
    this.#region = region;
    this.#extra = {
      ...(authority.ticket === undefined ? {} : { "x-ballast-ticket": authority.ticket }),
      ...(authority.breakGlass === undefined ? {} : { "x-ballast-break-glass": authority.breakGlass }),
    };
  }

  /**
   * A signed request and its whole answer. Through node:http rather than fetch: loading fetch's
   * implementation (undici) costs a short CLI call more than the request itself.
   */
  async send(
    method: string,
    path: string,
    body = "",
    contentType?: string,
    accept?: string,
  ): Promise<SignedResponse> {
    const url = new URL(path, this.#endpoint);
    const headers = signRequest({
      method,
      url,
      headers: { ...this.#extra, ...(contentType ? { "content-type": contentType } : {}) },
      body,
      credentials: this.#credentials,
      region: this.#region,
    });
    if (accept) headers.accept = accept;
    const payload = Buffer.from(body, "utf8");
    if (payload.length > 0 || (method !== "GET" && method !== "HEAD"))
      headers["content-length"] = String(payload.length);
    const request = url.protocol === "https:" ? (await import("node:https")).request : httpRequest;
    const options: RequestOptions = { method, headers, agent: false };
    try {
      return await new Promise<SignedResponse>((resolve, reject) => {
        const req = request(url, options, (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () =>
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }),
          );
          res.on("error", reject);
        });
        req.on("error", reject);
        req.end(payload.length > 0 ? payload : undefined);
      });
    } catch (e) {
      throw unreachable(this.#endpoint, e);
    }
  }

  /** A call answered with JSON: the parsed answer, or the API's error thrown as an ApiError. */
  async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res =
      body === undefined
        ? await this.send(method, path)
        : await this.send(method, path, JSON.stringify(body), "application/json");
    if (res.status >= 300) throw apiErrorOf(res.status, res.body);
    return JSON.parse(res.body) as T;
  }

  /** A signed request; the caller reads (or streams) the response. */
  async fetch(
    method: string,
    path: string,
    opts: {
      readonly body?: string;
      readonly contentType?: string;
      readonly accept?: string;
      /** More headers, signed with the rest. */
      readonly headers?: Readonly<Record<string, string>>;
    } = {},
  ): Promise<Response> {
    const body = opts.body ?? "";
    const url = new URL(path, this.#endpoint);
    const headers = signRequest({
      method,
      url,
      headers: {
        ...this.#extra,
        ...opts.headers,
        ...(opts.contentType ? { "content-type": opts.contentType } : {}),
      },
      body,
      credentials: this.#credentials,
      region: this.#region,
    });
    try {
      return await fetch(url, {
        method,
        headers: opts.accept ? { ...headers, accept: opts.accept } : headers,
        ...(method === "GET" || method === "HEAD" ? {} : { body }),
      });
    } catch (e) {
      throw unreachable(this.#endpoint, e);
    }
  }

  /** One AWS Query action; resolves with the XML body, throws the AWS error as an ApiError. */
  async query(action: string, params: Record<string, string>): Promise<string> {
    const form = new URLSearchParams({ Action: action, Version: "2012-06-01", ...params }).toString();
    const res = await this.send("POST", "/", form, "application/x-www-form-urlencoded; charset=utf-8");
    if (res.status !== 200) {
      const e = apiErrorOf(res.status, res.body);
      throw new CliError(e.code, `${action}: ${e.message}`);
    }
    return res.body;
  }
}

/** A failed connection (fetch's "fetch failed" or node:http's error), in words: what did not answer, and what to try. */
function unreachable(endpoint: URL, e: unknown): CliError {
  const cause =
    e instanceof Error && "code" in e && typeof e.code === "string"
      ? (e as NodeJS.ErrnoException)
      : e instanceof Error
        ? (e.cause as NodeJS.ErrnoException | undefined)
        : undefined;
  const where = endpoint.origin;
  switch (cause?.code) {
    case "ECONNREFUSED":
      return new CliError(
        "ConnectionRefused",
        `nothing is listening at ${where}`,
        "is the control plane running? start it with 'ballast up', or give its URL with --endpoint",
      );
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return new CliError("UnknownHost", `${endpoint.hostname} does not resolve`, "check --endpoint");
    case "ECONNRESET":
    case "UND_ERR_SOCKET":
      return new CliError(
        "ConnectionReset",
        `${where} closed the connection`,
        "is --endpoint a Ballast API?",
      );
    default:
      return new CliError(
        "ConnectionFailed",
        `cannot reach ${where}: ${cause?.message ?? (e instanceof Error ? e.message : String(e))}`,
        "check --endpoint",
      );
  }
}

/** Reads the `[ballast]` (or first) profile of an AWS shared-credentials file. */
export async function readCredentialsFile(path: string): Promise<ClientCredentials> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== "ENOENT" && code !== "EACCES" && code !== "EISDIR") throw e;
    throw new CliError(
      "NoCredentials",
      code === "ENOENT" ? `${path} does not exist` : `${path} cannot be read (${code})`,
      "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or point --data-dir at the control plane's data directory, where 'ballast up' writes bootstrap-credentials",
    );
  }
  const id = /^\s*aws_access_key_id\s*=\s*(\S+)/m.exec(text)?.[1];
  const secret = /^\s*aws_secret_access_key\s*=\s*(\S+)/m.exec(text)?.[1];
  if (!id || !secret)
    throw new CliError("NoCredentials", `${path} has no aws_access_key_id / aws_secret_access_key`);
  return { accessKeyId: id, secretAccessKey: secret };
}

/**
 * A response's body as JSON; for an error, the API's error thrown as an ApiError (printed by
 * main.ts as one line, `ballast VERB: Code: message`, exit code 1).
 */
export function answerJson<T>(_verb: string, res: SignedResponse): T {
  if (res.status < 300) return JSON.parse(res.body) as T;
  throw apiErrorOf(res.status, res.body);
}
