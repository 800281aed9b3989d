/**
 * The load balancer's own HTTP responses: what a node answers when it cannot or will not pass a
 * request on. Each is one preformatted buffer per (status, keep-alive) pair, built once.
 */

export type ElbStatus = 400 | 405 | 408 | 414 | 431 | 502 | 503 | 504;

const TEXT: Record<ElbStatus, [reason: string, body: string]> = {
  400: ["Bad Request", "400 Bad Request: the load balancer could not parse the request\n"],
  405: ["Method Not Allowed", "405 Method Not Allowed: the request method is not valid\n"],
  408: ["Request Timeout", "408 Request Timeout: the client did not send a whole request in time\n"],
  414: ["URI Too Long", "414 URI Too Long: the request target is too long\n"],
  431: [
    "Request Header Fields Too Large",
    "431 Request Header Fields Too Large: the request head is too large\n",
  ],
  502: ["Bad Gateway", "502 Bad Gateway: the back end sent an invalid response\n"],
  503: ["Service Unavailable", "503 Service Unavailable: no back end is available\n"],
  504: ["Gateway Timeout", "504 Gateway Timeout: the back end did not answer in time\n"],
};

function build(status: ElbStatus, keepAlive: boolean): Buffer {
  const [reason, body] = TEXT[status];
  return Buffer.from(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n` +
      `Connection: ${keepAlive ? "keep-alive" : "close"}\r\n\r\n${body}`,
    "latin1",
  );
}

const KEEP = new Map<number, Buffer>();
const CLOSE = new Map<number, Buffer>();
for (const s of Object.keys(TEXT).map(Number) as ElbStatus[]) {
  KEEP.set(s, build(s, true));
  CLOSE.set(s, build(s, false));
}

/** The whole response (head and body) for `status`. */
export function elbResponse(status: ElbStatus, keepAlive: boolean): Buffer {
  return (keepAlive ? KEEP : CLOSE).get(status) as Buffer;
}

/** The body length of an ELB error response (for access logs). */
export function elbErrorBytes(status: ElbStatus): number {
  return TEXT[status][1].length;
}
