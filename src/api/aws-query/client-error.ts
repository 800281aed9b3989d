/**
 * Requests Node's HTTP parser rejects before any handler runs (a head over the size limit, a
 * malformed request line) still get an AWS `ErrorResponse`, not Node's bare status line.
 */
import { randomUUID } from "node:crypto";
import type { Server } from "node:http";
import type { Duplex } from "node:stream";
import { BallastError } from "../../model/errors.js";
import { errorDocument } from "./xml.js";

export function answerClientErrorsAsAws(server: Server): void {
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (!socket.writable || (err.code === "ECONNRESET" && socket.destroyed)) {
      socket.destroy();
      return;
    }
    const e =
      err.code === "HPE_HEADER_OVERFLOW"
        ? new BallastError("RequestHeaderSectionTooLarge", "The request's headers are larger than 16 KB.")
        : new BallastError("BadRequest", "The request could not be parsed as HTTP/1.1.");
    const requestId = randomUUID();
    const body = Buffer.from(errorDocument(e.faultType, e.code, e.message, requestId), "utf8");
    const reason = e.status === 431 ? "Request Header Fields Too Large" : "Bad Request";
    socket.end(
      `HTTP/1.1 ${e.status} ${reason}\r\nContent-Type: text/xml\r\nContent-Length: ${body.length}\r\n` +
        `x-amzn-RequestId: ${requestId}\r\nConnection: close\r\n\r\n${body.toString("utf8")}`,
    );
  });
}
