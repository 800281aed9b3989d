/**
 * A SigV4-signing HTTP client for the `ballast` command: the same signature the AWS SDKs send,
 * so the CLI goes through exactly the authentication every other client does.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { Sha256 } from "@aws-crypto/sha256-js";
import { SignatureV4 } from "@smithy/signature-v4";

export interface ClientCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

export interface SignedResponse {
  readonly status: number;
  readonly body: string;
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
  readonly #signer: SignatureV4;
  readonly #extra: Record<string, string>;

  constructor(
    endpoint: string,
    credentials: ClientCredentials,
    region = "us-east-1",
    authority: ChangeAuthority = {},
  ) {
    this.#endpoint = new URL(endpoint);
    this.#signer = new SignatureV4({ credentials, region, service: "elasticloadbalancing", sha256: Sha256 });
    this.#extra = {
      ...(authority.ticket === undefined ? {} : { "x-ballast-ticket": authority.ticket }),
      ...(authority.breakGlass === undefined ? {} : { "x-ballast-break-glass": authority.breakGlass }),
    };
  }

  async send(method: string, path: string, body = "", contentType?: string): Promise<SignedResponse> {
    const res = await this.fetch(method, path, { body, ...(contentType ? { contentType } : {}) });
    return { status: res.status, body: await res.text() };
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
    const contentType = opts.contentType;
    const url = new URL(path, this.#endpoint);
    const query: Record<string, string> = {};
    for (const [k, v] of url.searchParams) query[k] = v;
    // The body's SHA-256, signed: the server verifies the signature before it reads the body.
    const headers: Record<string, string> = {
      ...this.#extra,
      ...opts.headers,
      host: url.host,
      "x-amz-content-sha256": createHash("sha256").update(body, "utf8").digest("hex"),
    };
    if (contentType) headers["content-type"] = contentType;
    const signed = await this.#signer.sign({
      method,
      protocol: url.protocol,
      hostname: url.hostname,
      port: Number(url.port),
      path: url.pathname,
      query,
      headers,
      body,
    });
    return fetch(url, {
      method,
      headers: opts.accept ? { ...signed.headers, accept: opts.accept } : signed.headers,
      ...(method === "GET" || method === "HEAD" ? {} : { body }),
    });
  }

  /** One AWS Query action; resolves with the XML body, rejects with the AWS error text. */
  async query(action: string, params: Record<string, string>): Promise<string> {
    const form = new URLSearchParams({ Action: action, Version: "2012-06-01", ...params }).toString();
    const res = await this.send("POST", "/", form, "application/x-www-form-urlencoded; charset=utf-8");
    if (res.status !== 200) {
      const code = /<Code>([^<]*)<\/Code>/.exec(res.body)?.[1] ?? `HTTP ${res.status}`;
      const message = /<Message>([^<]*)<\/Message>/.exec(res.body)?.[1] ?? res.body;
      throw new Error(`${action} failed: ${code}: ${message}`);
    }
    return res.body;
  }
}

/** Reads the `[ballast]` (or first) profile of an AWS shared-credentials file. */
export async function readCredentialsFile(path: string): Promise<ClientCredentials> {
  const text = await readFile(path, "utf8");
  const id = /^\s*aws_access_key_id\s*=\s*(\S+)/m.exec(text)?.[1];
  const secret = /^\s*aws_secret_access_key\s*=\s*(\S+)/m.exec(text)?.[1];
  if (!id || !secret) throw new Error(`${path} has no aws_access_key_id / aws_secret_access_key`);
  return { accessKeyId: id, secretAccessKey: secret };
}

/**
 * A response's body as JSON, or — for an error — one readable line on stderr
 * (`ballast VERB: Code: message`), exit code 1, and undefined.
 */
export function answerJson<T>(verb: string, res: SignedResponse): T | undefined {
  if (res.status < 300) return JSON.parse(res.body) as T;
  let message = res.body;
  try {
    const e = (JSON.parse(res.body) as { error?: { code?: string; message?: string } }).error;
    if (e?.code !== undefined) message = `${e.code}: ${e.message ?? ""}`;
  } catch {
    // not JSON: print as is
  }
  console.error(`ballast ${verb}: ${message}`);
  process.exitCode = 1;
  return undefined;
}
