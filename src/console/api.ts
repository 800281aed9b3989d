/**
 * Every call the console makes, signed in the browser with SigV4 exactly as the AWS SDKs and the
 * `ballast` command sign: the secret access key never leaves this page. SHA-256 comes from
 * @aws-crypto/sha256-js, not WebCrypto, which browsers withhold from plain-http origins other
 * than localhost.
 */
import { Sha256 } from "@aws-crypto/sha256-js";
import { SignatureV4 } from "@smithy/signature-v4";
import type { Session } from "./session";

/** An API error: the AWS error code and message, shown to the operator as one line. */
export class ApiError extends Error {
  readonly code: string;
  readonly status: number;
  constructor(code: string, message: string, status: number) {
    super(message);
    this.code = code;
    this.status = status;
  }
  get line(): string {
    return `${this.code}: ${this.message}`;
  }
}

export function errorLine(e: unknown): string {
  if (e instanceof ApiError) return e.line;
  if (e instanceof Error) return e.message;
  return String(e);
}

async function sha256Hex(text: string): Promise<string> {
  const h = new Sha256();
  h.update(text);
  const bytes = await h.digest();
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export interface RequestOptions {
  readonly body?: string;
  readonly contentType?: string;
  /** Extra headers, signed with the rest (x-ballast-ticket, x-ballast-break-glass). */
  readonly headers?: Readonly<Record<string, string>>;
}

/** A signed request to this origin. */
export async function signedFetch(
  session: Session,
  method: string,
  path: string,
  opts: RequestOptions = {},
): Promise<Response> {
  const url = new URL(path, window.location.origin);
  const body = opts.body ?? "";
  const query: Record<string, string> = {};
  for (const [k, v] of url.searchParams) query[k] = v;
  const headers: Record<string, string> = {
    host: url.host,
    "x-amz-content-sha256": await sha256Hex(body),
    ...(opts.contentType ? { "content-type": opts.contentType } : {}),
  };
  for (const [k, v] of Object.entries(opts.headers ?? {})) headers[k.toLowerCase()] = v;
  const signer = new SignatureV4({
    credentials: { accessKeyId: session.accessKeyId, secretAccessKey: session.secretAccessKey },
    region: session.region,
    service: "elasticloadbalancing",
    sha256: Sha256,
  });
  const signed = await signer.sign({
    method,
    protocol: url.protocol,
    hostname: url.hostname,
    ...(url.port === "" ? {} : { port: Number(url.port) }),
    path: url.pathname,
    query,
    headers,
    body,
  });
  // The browser sets Host itself (to the same value that was signed).
  const { host: _host, ...send } = signed.headers;
  return fetch(url, {
    method,
    headers: send,
    credentials: "omit",
    cache: "no-store",
    ...(method === "GET" || method === "HEAD" ? {} : { body }),
  });
}

/** A call to the admin JSON API (`/admin/v1…`); rejects with the API's `{error:{code,message}}`. */
export async function admin<T>(
  session: Session,
  method: string,
  path: string,
  body?: unknown,
  headers?: Readonly<Record<string, string>>,
): Promise<T> {
  const res = await signedFetch(session, method, `/admin/v1${path}`, {
    ...(body === undefined ? {} : { body: JSON.stringify(body), contentType: "application/json" }),
    ...(headers === undefined ? {} : { headers }),
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text === "" ? {} : JSON.parse(text);
  } catch {
    throw new ApiError(`HTTP ${res.status}`, text.slice(0, 200), res.status);
  }
  if (!res.ok) {
    const e = (parsed as { error?: { code?: string; message?: string } }).error;
    throw new ApiError(e?.code ?? `HTTP ${res.status}`, e?.message ?? res.statusText, res.status);
  }
  return parsed as T;
}

/**
 * One ELB API action (AWS Query protocol, 2012-06-01), as the AWS CLI sends it; resolves with the
 * response document, rejects with the AWS error code and message.
 */
export async function elb(
  session: Session,
  action: string,
  params: Readonly<Record<string, string>>,
  headers?: Readonly<Record<string, string>>,
): Promise<Document> {
  const form = new URLSearchParams({ Action: action, Version: "2012-06-01", ...params }).toString();
  const res = await signedFetch(session, "POST", "/", {
    body: form,
    contentType: "application/x-www-form-urlencoded; charset=utf-8",
    ...(headers === undefined ? {} : { headers }),
  });
  const doc = new DOMParser().parseFromString(await res.text(), "application/xml");
  if (!res.ok) {
    const code = doc.querySelector("Error > Code")?.textContent ?? `HTTP ${res.status}`;
    const message = doc.querySelector("Error > Message")?.textContent ?? res.statusText;
    throw new ApiError(code, message, res.status);
  }
  return doc;
}

export interface ProgressLine {
  readonly phase: string;
  readonly done: number;
  readonly total: number;
  readonly elapsedMs: number;
}

/**
 * A long admin call (restore, import, verify) answered as an NDJSON progress stream: `onProgress`
 * gets each `{progress}` line as it arrives; resolves with the `{result}`, rejects with `{error}`
 * (or with the plain JSON error of a call refused before any work).
 */
export async function adminStream<T>(
  session: Session,
  path: string,
  body: unknown,
  onProgress: (p: ProgressLine) => void,
  headers?: Readonly<Record<string, string>>,
): Promise<T> {
  const res = await signedFetch(session, "POST", `/admin/v1${path}`, {
    body: JSON.stringify(body),
    contentType: "application/json",
    headers: { ...headers, accept: "application/x-ndjson" },
  });
  if (!res.ok || res.body === null || !(res.headers.get("content-type") ?? "").includes("ndjson")) {
    const text = await res.text();
    let parsed: { error?: { code?: string; message?: string } } = {};
    try {
      parsed = JSON.parse(text) as typeof parsed;
    } catch {
      throw new ApiError(`HTTP ${res.status}`, text.slice(0, 200), res.status);
    }
    if (!res.ok)
      throw new ApiError(parsed.error?.code ?? `HTTP ${res.status}`, parsed.error?.message ?? "", res.status);
    return parsed as T;
  }
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (value !== undefined) buffered += value;
    let nl = buffered.indexOf("\n");
    while (nl >= 0) {
      const line = buffered.slice(0, nl).trim();
      buffered = buffered.slice(nl + 1);
      nl = buffered.indexOf("\n");
      if (line === "") continue;
      const msg = JSON.parse(line) as {
        progress?: ProgressLine;
        result?: T;
        error?: { code: string; message: string };
      };
      if (msg.progress !== undefined) onProgress(msg.progress);
      else if (msg.error !== undefined) throw new ApiError(msg.error.code, msg.error.message, 500);
      else if (msg.result !== undefined) return msg.result;
    }
    if (done) throw new ApiError("IncompleteResponse", "The stream ended before a result", res.status);
  }
}
