/**
 * The `ballast` command's errors and how they are printed: one line, `ballast VERB: Code:
 * message`, with a hint where one helps. Exit codes: 1 for a failure, 2 for a usage error.
 * A stack trace only with BALLAST_DEBUG=1.
 */

/** Bad input on the command line: exit code 2 and "run 'ballast … --help'". */
export class UsageError extends Error {}

/** A failure with an error code (the API's, or the CLI's own) and what to try next. */
export class CliError extends Error {
  readonly code: string;
  readonly hint: string | undefined;
  constructor(code: string, message: string, hint?: string) {
    super(message);
    this.code = code;
    this.hint = hint;
  }
}

/** An error the API answered with (admin JSON or AWS XML). */
export class ApiError extends CliError {
  readonly status: number;
  constructor(code: string, message: string, status = 0, hint?: string) {
    super(code, message, hint);
    this.status = status;
  }
}

/** The API's error in a response body: `{error:{code,message}}` JSON or an AWS `<Error>` XML document. */
export function apiErrorOf(status: number, body: string): ApiError {
  try {
    const e = (JSON.parse(body) as { error?: { code?: unknown; message?: unknown } }).error;
    if (typeof e?.code === "string")
      return new ApiError(e.code, typeof e.message === "string" ? e.message : "", status);
  } catch {
    // not JSON: AWS XML, or text from something that is not Ballast
  }
  const code = /<Code>([^<]*)<\/Code>/.exec(body)?.[1];
  if (code !== undefined) {
    const message = /<Message>([^<]*)<\/Message>/.exec(body)?.[1] ?? "";
    return new ApiError(code, unescapeXml(message), status);
  }
  const text = body.replace(/\s+/g, " ").trim().slice(0, 200);
  return new ApiError(`HTTP${status}`, text || "the response had no body", status);
}

function unescapeXml(s: string): string {
  return s
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, "&");
}

/** The one line printed for `e`, prefixed with `label` (`ballast instances add`). */
export function errorLine(label: string, e: unknown): string {
  if (e instanceof CliError) return `${label}: ${e.code}: ${e.message}${e.hint ? ` (${e.hint})` : ""}`;
  const sys = systemError(e);
  if (sys) return `${label}: ${sys}`;
  if (e instanceof Error && "code" in e && typeof e.code === "string" && /^[A-Z][A-Za-z]+$/.test(e.code))
    return `${label}: ${e.code}: ${e.message}`;
  return `${label}: ${e instanceof Error ? e.message : String(e)}`;
}

/** A Node.js system error (missing file, busy port…) in words. */
function systemError(e: unknown): string | undefined {
  if (!(e instanceof Error) || !("code" in e)) return undefined;
  const err = e as NodeJS.ErrnoException & { address?: string; port?: number };
  const where = err.path ?? (err.port === undefined ? undefined : `${err.address ?? ""}:${err.port}`);
  switch (err.code) {
    case "ENOENT":
      return `FileNotFound: ${where ?? "a file"} does not exist`;
    case "EACCES":
    case "EPERM":
      return `PermissionDenied: ${where ?? "the operation"} is not permitted for this user`;
    case "EISDIR":
      return `FileNotFound: ${where ?? "the path"} is a directory, not a file`;
    case "EADDRINUSE":
      return `PortInUse: ${where ?? "a port"} is already in use`;
    case "EADDRNOTAVAIL":
      return `AddressNotAvailable: ${where ?? "an address"} is not an address of this host`;
    default:
      return undefined;
  }
}

/** Exit code 2 for a usage error, 1 for anything else. */
export function exitCodeOf(e: unknown): number {
  return e instanceof UsageError ? 2 : 1;
}
