/**
 * One request on the agent channel, over HTTP or HTTPS. HTTPS verifies the control plane against
 * the CA the agent was given (`--ca`), or the system's roots without one. node:http(s) rather
 * than fetch: fetch in Node 20 takes no CA of its own.
 */
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";

export interface ChannelResponse {
  readonly status: number;
  readonly body: string;
}

const MAX_RESPONSE_BYTES = 64 << 20;

export function channelRequest(
  url: URL,
  init: {
    readonly method: "GET" | "POST";
    readonly headers: Record<string, string>;
    readonly body?: string;
    readonly signal: AbortSignal;
    readonly ca?: string;
  },
): Promise<ChannelResponse> {
  return new Promise((resolve, reject) => {
    const https = url.protocol === "https:";
    if (!https && url.protocol !== "http:") {
      reject(new Error(`the control plane URL must be http: or https:, got ${url.protocol}`));
      return;
    }
    const options = {
      method: init.method,
      headers:
        init.body === undefined
          ? init.headers
          : { ...init.headers, "content-length": Buffer.byteLength(init.body) },
      signal: init.signal,
      ...(https && init.ca !== undefined ? { ca: init.ca } : {}),
    };
    const req = (https ? httpsRequest : httpRequest)(url, options, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (c: Buffer) => {
        size += c.length;
        if (size > MAX_RESPONSE_BYTES) {
          req.destroy(new Error("the control plane's answer is too large"));
          return;
        }
        chunks.push(c);
      });
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }),
      );
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(init.body);
  });
}
