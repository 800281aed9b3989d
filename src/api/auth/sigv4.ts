/**
 * AWS Signature Version 4 verification, as AWS does it for the Query APIs: the Authorization
 * header form and the presigned query-string form. The error codes and messages follow what AWS
 * answers, because clients act on them: the SDKs correct their clock on "Signature expired",
 * and people paste the messages into search engines.
 *
 * Order of checks: shape of the signature (IncompleteSignature) → credential scope
 * (SignatureDoesNotMatch) → session token / access key (InvalidClientTokenId) → clock
 * (SignatureDoesNotMatch) → the signature itself, compared in constant time.
 */
import { timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { BallastError } from "../../model/errors.js";
import { isRegionName } from "../../model/region.js";
import type { Credential } from "../../model/types.js";
import type {
  Authenticated,
  Authenticator,
  PendingAuthentication,
  RequestHead,
  SignedRequest,
} from "./authenticator.js";
import {
  ALGORITHM,
  amzDate,
  canonicalRequest,
  headerValue,
  parseAmzDate,
  parseQuery,
  SigningKeyCache,
  sha256Hex,
  signatureHex,
  splitUrl,
  stringToSign,
  TERMINATOR,
} from "./sigv4-canonical.js";

export interface SigV4Options {
  readonly lookup: (accessKeyId: string) => Promise<Credential | undefined>;
  /**
   * The regions a credential scope may name. Absent: every well-formed AWS region name (ELB is
   * regional, and Ballast serves each region the client signs for).
   */
  readonly regions?: readonly string[];
  /** "elasticloadbalancing" for the ELB API. */
  readonly service: string;
  /** How far a request's date may be from the server clock. Default 300 s, as AWS. */
  readonly clockSkewSeconds?: number;
  readonly now?: () => Date;
}

/** What either form of signature carries, once parsed. */
interface ParsedSignature {
  readonly accessKeyId: string;
  readonly scopeDate: string;
  readonly scopeRegion: string;
  readonly scopeService: string;
  readonly terminator: string;
  readonly signedHeaders: readonly string[];
  readonly signedHeadersLine: string;
  readonly signature: string;
  /** The request time as signed, ISO 8601 basic. */
  readonly amzDate: string;
  readonly requestTime: Date;
  /** Presigned only: validity in seconds from `requestTime`. */
  readonly expires?: number;
  readonly presigned: boolean;
}

const SIGNATURE_MISMATCH =
  "The request signature we calculated does not match the signature you provided. Check your AWS Secret " +
  "Access Key and signing method. Consult the service documentation for details.";
const INVALID_TOKEN = "The security token included in the request is invalid.";
const PRESIGN_PARAMS = [
  "X-Amz-Algorithm",
  "X-Amz-Credential",
  "X-Amz-Signature",
  "X-Amz-SignedHeaders",
  "X-Amz-Date",
] as const;
/** AWS accepts presigned URLs for at most seven days; without X-Amz-Expires, 15 minutes. */
const MAX_EXPIRES = 604_800;
const DEFAULT_EXPIRES = 900;

function incomplete(message: string): BallastError {
  return new BallastError("IncompleteSignature", message);
}

function mismatch(message = SIGNATURE_MISMATCH): BallastError {
  return new BallastError("SignatureDoesNotMatch", message);
}

export class SigV4Authenticator implements Authenticator {
  readonly #lookup: SigV4Options["lookup"];
  readonly #regions: readonly string[] | undefined;
  readonly #service: string;
  readonly #skewMs: number;
  readonly #now: () => Date;
  readonly #keys = new SigningKeyCache();

  constructor(opts: SigV4Options) {
    this.#lookup = opts.lookup;
    this.#regions = opts.regions;
    this.#service = opts.service;
    this.#skewMs = (opts.clockSkewSeconds ?? 300) * 1000;
    this.#now = opts.now ?? (() => new Date());
  }

  async authenticate(request: SignedRequest): Promise<Authenticated> {
    return (await this.authenticateHead(request)).verify(sha256Hex(request.body));
  }

  /**
   * Every check the head allows — shape, scope, access key, clock, signed headers present — before
   * any body is read; the returned `verify` checks the signature once the payload hash is known.
   */
  async authenticateHead(request: RequestHead): Promise<PendingAuthentication> {
    const { path, query } = splitUrl(request.url);
    const params = new Map<string, string>();
    for (const [k, v] of parseQuery(query)) if (!params.has(k)) params.set(k, v);
    const authorization = headerValue(request.headers, "authorization");
    const presigned = PRESIGN_PARAMS.some((p) => params.has(p));

    if (authorization === undefined && !presigned) {
      throw new BallastError("MissingAuthenticationToken", "Request is missing Authentication Token");
    }
    if (authorization !== undefined && presigned) {
      throw incomplete(
        "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization " +
          "header should be specified",
      );
    }
    const sig =
      authorization !== undefined
        ? parseAuthorizationHeader(authorization, request.headers)
        : parsePresigned(params);

    this.#checkScope(sig);
    if (
      headerValue(request.headers, "x-amz-security-token") !== undefined ||
      params.has("X-Amz-Security-Token")
    ) {
      // Ballast issues no temporary credentials, so no session token can be valid.
      throw new BallastError("InvalidClientTokenId", INVALID_TOKEN);
    }
    const credential = sig.accessKeyId === "" ? undefined : await this.#lookup(sig.accessKeyId);
    // A deactivated key is refused as IAM refuses one: as if it did not exist.
    if (!credential || credential.status === "Inactive")
      throw new BallastError("InvalidClientTokenId", INVALID_TOKEN);
    this.#checkTime(sig);

    const signedHeaders: [string, string][] = [];
    for (const name of sig.signedHeaders) {
      const value = headerValue(request.headers, name);
      if (value === undefined) {
        throw incomplete(`'${name}' is named as a SignedHeader, but it does not exist in the HTTP request.`);
      }
      signedHeaders.push([name, value]);
    }

    const rawDeclared = sig.presigned ? undefined : headerValue(request.headers, "x-amz-content-sha256");
    const declared = rawDeclared?.trim().toLowerCase();
    // The body carries the Action and its parameters, so it is always signed: a declared hash
    // that is no SHA-256 (UNSIGNED-PAYLOAD, STREAMING-…) is a mismatch, not a shortcut.
    if (declared !== undefined && !/^[0-9a-f]{64}$/.test(declared)) throw mismatch();

    const verify = (payloadHash: string): Authenticated => {
      // A declared hash that is not the body's own is a mismatch.
      if (declared !== undefined && declared !== payloadHash) throw mismatch();
      const canonical = canonicalRequest({
        method: request.method,
        path,
        query,
        ...(sig.presigned ? { omitQueryParam: "X-Amz-Signature" } : {}),
        signedHeaders,
        signedHeadersLine: sig.signedHeadersLine,
        payloadHash,
      });
      const scope = `${sig.scopeDate}/${sig.scopeRegion}/${sig.scopeService}/${sig.terminator}`;
      const key = this.#keys.key(
        credential.secretAccessKey,
        sig.scopeDate,
        sig.scopeRegion,
        sig.scopeService,
      );
      const expected = Buffer.from(signatureHex(key, stringToSign(sig.amzDate, scope, canonical)), "utf8");
      const provided = Buffer.from(sig.signature.toLowerCase(), "utf8");
      if (provided.length !== expected.length || !timingSafeEqual(provided, expected)) throw mismatch();
      return { credential, region: sig.scopeRegion, presigned: sig.presigned };
    };
    return { presigned: sig.presigned, declaredPayloadHash: declared, verify };
  }

  #checkScope(sig: ParsedSignature): void {
    const day = sig.amzDate.slice(0, 8);
    if (sig.scopeDate !== day) {
      throw mismatch(
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: " +
          `'${sig.scopeDate}' != '${day}', from '${sig.amzDate}'.`,
      );
    }
    // What AWS answers for a scope naming a region the endpoint does not serve.
    if (
      !isRegionName(sig.scopeRegion) ||
      (this.#regions !== undefined && !this.#regions.includes(sig.scopeRegion))
    ) {
      throw mismatch(`Credential should be scoped to a valid region, not '${sig.scopeRegion}'. `);
    }
    if (sig.scopeService !== this.#service) {
      throw mismatch(`Credential should be scoped to correct service: '${this.#service}'. `);
    }
    if (sig.terminator !== TERMINATOR) {
      throw mismatch(
        `Credential should be scoped with a valid terminator: '${TERMINATOR}', not '${sig.terminator}'. `,
      );
    }
  }

  #checkTime(sig: ParsedSignature): void {
    const now = this.#now();
    const t = sig.requestTime.getTime();
    const skewText = `${Math.round(this.#skewMs / 60_000)} min.`;
    if (t > now.getTime() + this.#skewMs) {
      const limit = amzDate(new Date(now.getTime() + this.#skewMs));
      throw mismatch(
        `Signature not yet current: ${sig.amzDate} is still later than ${limit} (${amzDate(now)} + ${skewText})`,
      );
    }
    if (sig.expires !== undefined) {
      const end = t + sig.expires * 1000;
      if (now.getTime() > end) {
        const earliest = amzDate(new Date(now.getTime() - sig.expires * 1000));
        throw mismatch(
          `Signature expired: ${sig.amzDate} is now earlier than ${earliest} (${amzDate(now)} - ${sig.expires} sec.)`,
        );
      }
      return;
    }
    if (t < now.getTime() - this.#skewMs) {
      const limit = amzDate(new Date(now.getTime() - this.#skewMs));
      throw mismatch(
        `Signature expired: ${sig.amzDate} is now earlier than ${limit} (${amzDate(now)} - ${skewText})`,
      );
    }
  }
}

interface CredentialScope {
  readonly accessKeyId: string;
  readonly scopeDate: string;
  readonly scopeRegion: string;
  readonly scopeService: string;
  readonly terminator: string;
}

function parseCredential(value: string): CredentialScope {
  const parts = value.split("/");
  const [accessKeyId, scopeDate, scopeRegion, scopeService, terminator] = parts;
  if (
    parts.length !== 5 ||
    accessKeyId === undefined ||
    scopeDate === undefined ||
    scopeRegion === undefined ||
    scopeService === undefined ||
    terminator === undefined
  ) {
    throw incomplete(
      `Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '${value}'`,
    );
  }
  return { accessKeyId, scopeDate, scopeRegion, scopeService, terminator };
}

function parseSignedHeaders(line: string): string[] {
  const names = line.split(";").map((h) => h.trim().toLowerCase());
  if (names.some((h) => h === "")) throw incomplete(`Invalid SignedHeaders: '${line}'`);
  if (!names.includes("host")) {
    throw incomplete("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
  }
  return names;
}

function parseIsoBasic(value: string): Date {
  const d = parseAmzDate(value);
  if (!d) {
    throw incomplete(
      `Date must be in ISO-8601 'basic format'. Got '${value}'. See http://en.wikipedia.org/wiki/ISO_8601`,
    );
  }
  return d;
}

function parseAuthorizationHeader(authorization: string, headers: IncomingHttpHeaders): ParsedSignature {
  const trimmed = authorization.trim();
  const space = trimmed.indexOf(" ");
  const algorithm = space < 0 ? trimmed : trimmed.slice(0, space);
  const fields = new Map<string, string>();
  if (algorithm === ALGORITHM) {
    for (const raw of trimmed.slice(algorithm.length).split(",")) {
      const part = raw.trim();
      if (part === "") continue;
      const eq = part.indexOf("=");
      if (eq < 0) {
        throw incomplete(
          `'${part}' not a valid key=value pair (missing equal-sign) in Authorization header: '${authorization}'.`,
        );
      }
      fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
    }
  } else if (algorithm.startsWith("AWS4-")) {
    throw incomplete(`Unsupported AWS 'algorithm': '${algorithm}'`);
  }
  // Anything else (a SigV2 header, a bearer token) is reported the way AWS does: as a SigV4
  // header missing every part.

  const xAmzDate = headerValue(headers, "x-amz-date");
  const httpDate = headerValue(headers, "date");
  const credential = fields.get("Credential");
  const signature = fields.get("Signature");
  const signedHeaders = fields.get("SignedHeaders");
  const missing: string[] = [];
  if (credential === undefined) missing.push("Authorization header requires 'Credential' parameter.");
  if (signature === undefined) missing.push("Authorization header requires 'Signature' parameter.");
  if (signedHeaders === undefined) missing.push("Authorization header requires 'SignedHeaders' parameter.");
  if (xAmzDate === undefined && httpDate === undefined) {
    missing.push("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.");
  }
  if (
    missing.length > 0 ||
    credential === undefined ||
    signature === undefined ||
    signedHeaders === undefined
  ) {
    throw incomplete(`${missing.join(" ")} Authorization=${authorization}`);
  }

  let requestTime: Date;
  let signedDate: string;
  if (xAmzDate !== undefined) {
    signedDate = xAmzDate.trim();
    requestTime = parseIsoBasic(signedDate);
  } else {
    const ms = Date.parse(httpDate ?? "");
    if (Number.isNaN(ms)) {
      throw incomplete("Invalid date format header, expected to be in ISO8601, RFC 822, or RFC 850 format");
    }
    requestTime = new Date(ms);
    signedDate = amzDate(requestTime);
  }

  return {
    ...parseCredential(credential),
    signedHeaders: parseSignedHeaders(signedHeaders),
    signedHeadersLine: signedHeaders,
    signature,
    amzDate: signedDate,
    requestTime,
    presigned: false,
  };
}

function parsePresigned(params: ReadonlyMap<string, string>): ParsedSignature {
  const missing = PRESIGN_PARAMS.filter((p) => !params.has(p));
  if (missing.length > 0) {
    throw incomplete(
      `${missing.map((p) => `AWS query-string parameters must include '${p}'.`).join(" ")} ` +
        "Re-examine the query-string parameters.",
    );
  }
  const get = (name: string): string => params.get(name) ?? "";
  const algorithm = get("X-Amz-Algorithm");
  if (algorithm !== ALGORITHM) throw incomplete(`Unsupported AWS 'algorithm': '${algorithm}'`);

  let expires = DEFAULT_EXPIRES;
  const rawExpires = params.get("X-Amz-Expires");
  if (rawExpires !== undefined) {
    if (!/^\d{1,7}$/.test(rawExpires) || Number(rawExpires) < 1 || Number(rawExpires) > MAX_EXPIRES) {
      throw incomplete(
        `X-Amz-Expires must be an integer number of seconds from 1 to ${MAX_EXPIRES}, got '${rawExpires}'`,
      );
    }
    expires = Number(rawExpires);
  }
  const signedDate = get("X-Amz-Date");
  return {
    ...parseCredential(get("X-Amz-Credential")),
    signedHeaders: parseSignedHeaders(get("X-Amz-SignedHeaders")),
    signedHeadersLine: get("X-Amz-SignedHeaders"),
    signature: get("X-Amz-Signature"),
    amzDate: signedDate,
    requestTime: parseIsoBasic(signedDate),
    expires,
    presigned: true,
  };
}
