/**
 * Long admin operations answered as NDJSON progress streams (see state.ts for the protocol), and
 * the plain-JSON answer they fall back to.
 */
import type { ServerResponse } from "node:http";
import { BallastError } from "../../model/errors.js";
import type { Logger } from "../../util/logger.js";
import type { Json } from "./common.js";

const NDJSON = "application/x-ndjson";
const STREAM_MIN_GAP_MS = 250;
const HEARTBEAT_MS = 2000;
const LOG_EVERY_MS = 5000;

export type Progress = (phase: string, done: number, total: number) => void;

/** What the streams read of a state call: its Accept header and its request id. */
export interface StreamedCall {
  readonly accept: string | undefined;
  readonly meta: { readonly requestId: string };
}

/**
 * Runs a long operation, reporting progress to the log and — when the client asked for NDJSON —
 * to the client. Headers are sent with the first progress line or the result, never before.
 */
export async function streamed(
  call: StreamedCall,
  res: ServerResponse,
  logger: Logger,
  operation: string,
  run: (progress: Progress) => Promise<Json>,
): Promise<void> {
  const stream = (call.accept ?? "").includes(NDJSON);
  const started = Date.now();
  let current = { phase: "start", done: 0, total: 0 };
  let lastSent = 0;
  let lastPhase = "";
  let lastLogged = started;
  const line = (value: Json): void => {
    if (!res.headersSent) {
      res.writeHead(200, {
        "Content-Type": NDJSON,
        "Cache-Control": "no-store",
        "x-amzn-RequestId": call.meta.requestId,
      });
    }
    res.write(`${JSON.stringify(value)}\n`);
    // Node corks the socket on a write and uncorks on the next tick, but the store's work runs as
    // one long chain of promise jobs that starves the tick queue: uncork now, so the line leaves.
    res.socket?.uncork();
  };
  const sendProgress = (): void => {
    lastSent = Date.now();
    lastPhase = current.phase;
    line({ progress: { ...current, elapsedMs: lastSent - started } });
  };
  const progress: Progress = (phase, done, total) => {
    current = { phase, done, total };
    const now = Date.now();
    if (now - lastLogged >= LOG_EVERY_MS) {
      lastLogged = now;
      logger.info(`${operation} in progress`, { requestId: call.meta.requestId, phase, done, total });
    }
    if (stream && (phase !== lastPhase || done === total || now - lastSent >= STREAM_MIN_GAP_MS))
      sendProgress();
  };
  const heartbeat = stream ? setInterval(sendProgress, HEARTBEAT_MS) : undefined;
  heartbeat?.unref();
  try {
    const result = await run(progress);
    if (!stream) return sendText(res, 200, "application/json", JSON.stringify(result), call);
    line({ result });
    res.end();
  } catch (e) {
    if (!res.headersSent) throw e;
    const err =
      e instanceof BallastError ? e : new BallastError("InternalFailure", "An internal error occurred.");
    if (!(e instanceof BallastError))
      logger.error(`${operation} failed`, { requestId: call.meta.requestId, err: e });
    line({ error: { code: err.code, message: err.message } });
    res.end();
  } finally {
    clearInterval(heartbeat);
  }
}

export function sendText(
  res: ServerResponse,
  status: number,
  contentType: string,
  text: string,
  call: StreamedCall,
): void {
  const payload = Buffer.from(text, "utf8");
  res.writeHead(status, {
    "Content-Type": contentType,
    "Content-Length": payload.length,
    "x-amzn-RequestId": call.meta.requestId,
  });
  res.end(payload);
}
