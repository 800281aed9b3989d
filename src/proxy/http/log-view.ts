import type { AccessLogRequest } from "../access-log.js";
import type { ParsedRequest } from "../http1/request.js";

/** What the access log reads of a request: method, target, version, Host and User-Agent, body size. */
export function accessLogRequest(req: ParsedRequest, bodyBytes: number): AccessLogRequest {
  const headers: AccessLogRequest["headers"] = { "content-length": String(bodyBytes) };
  const fields = req.headers;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = (fields[i] as string).toLowerCase();
    if (name === "host") headers.host ??= fields[i + 1];
    else if (name === "user-agent") headers["user-agent"] ??= fields[i + 1];
  }
  return { method: req.method, url: req.target, httpVersion: `1.${req.minor}`, headers };
}
