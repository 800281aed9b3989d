/** Reading a request body with a size limit, shared by the AWS Query and admin edges. */
import type { IncomingMessage } from "node:http";
import { BallastError } from "../../model/errors.js";

export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"]);
    if (declared > limit) {
      req.resume();
      reject(tooLarge(limit));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        req.off("data", onData);
        req.resume();
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    req.on("data", onData);
    req.once("end", () => resolve(Buffer.concat(chunks)));
    req.once("error", reject);
  });
}

function tooLarge(limit: number): BallastError {
  return new BallastError("RequestEntityTooLarge", `Request body exceeds the limit of ${limit} bytes.`);
}
