/**
 * A keeper replaced without closing a socket (an upgrade of the agent), the way HAProxy's `-x` and
 * Envoy's hot restart do it: the running keeper spawns its successor with an IPC channel and sends
 * it every socket it holds (node passes a TCP handle or a dgram socket only over such a channel;
 * the successor receives duplicates of the same kernel sockets). The successor starts its own
 * worker on them and, once that worker serves, says so; only then does the old keeper drain its
 * worker and exit. Throughout, some process holds every socket: the kernel keeps accepting
 * connections and queueing datagrams, and nobody is refused.
 *
 * If the successor fails (exits, or is not serving in time), the old keeper kills it and carries
 * on as before: its own worker was never touched.
 */
import type { ChildProcess } from "node:child_process";
import type dgram from "node:dgram";
import type { Logger } from "../util/logger.js";
import { type HeldSocket, holdUdp, type Keeper } from "./keeper.js";
import {
  type HandoverMessage,
  isHandoverMessage,
  isSuccessorMessage,
  type SuccessorMessage,
} from "./keeper-protocol.js";

/**
 * The old keeper's side: sends every socket to `successor` and waits until it serves. True: the
 * caller retires its worker and exits. False (logged): the successor was killed, nothing changed.
 */
export async function handOver(
  keeper: Keeper,
  successor: ChildProcess,
  logger: Logger,
  timeoutMs: number,
): Promise<boolean> {
  const log = logger.child({ component: "keeper" });
  const listening = successorAnswer(successor, timeoutMs);
  const first = await listening;
  if (first.kind !== "successor-listening") {
    log.error("the successor keeper failed before it took any socket", {
      pid: successor.pid,
      error: first.kind === "successor-failed" ? first.error : first.kind,
    });
    successor.kill("SIGKILL");
    return false;
  }
  const answer = successorAnswer(successor, timeoutMs);
  try {
    const held = keeper.held();
    for (const h of held) {
      const m: HandoverMessage = { kind: "handover-socket", key: h.key, protocol: h.protocol, port: h.port };
      await sendTo(successor, m, h.handle);
    }
    await sendTo(successor, { kind: "handover-end", count: held.length });
    log.info("sockets sent to the successor keeper", { pid: successor.pid, sockets: held.length });
  } catch (err) {
    log.error("could not send the sockets to the successor keeper", { pid: successor.pid, err });
    successor.kill("SIGKILL");
    return false;
  }
  const outcome = await answer;
  if (outcome.kind === "successor-listening") return failed(successor, log, "said it listens twice");
  if (outcome.kind === "successor-ready") {
    log.info("successor keeper serves; this keeper drains its worker and exits", {
      successor: successor.pid,
      sockets: outcome.sockets,
    });
    if (successor.connected) successor.disconnect();
    successor.unref();
    return true;
  }
  return failed(successor, log, outcome.error);
}

function failed(successor: ChildProcess, log: Logger, error: string): false {
  log.error("the successor keeper failed; this keeper keeps serving", { pid: successor.pid, error });
  successor.kill("SIGKILL");
  return false;
}

function sendTo(child: ChildProcess, m: HandoverMessage, handle?: unknown): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!child.connected) return reject(new Error("the successor keeper is gone"));
    child.send(m, handle as dgram.Socket | undefined, (err) => (err ? reject(err) : resolve()));
  });
}

function successorAnswer(successor: ChildProcess, timeoutMs: number): Promise<SuccessorMessage> {
  return new Promise((resolve) => {
    const done = (m: SuccessorMessage): void => {
      clearTimeout(timer);
      successor.off("message", onMessage);
      successor.off("exit", onExit);
      successor.off("error", onError);
      resolve(m);
    };
    const onMessage = (m: unknown): void => {
      if (isSuccessorMessage(m)) done(m);
    };
    const onExit = (code: number | null, signal: string | null): void =>
      done({ kind: "successor-failed", error: `exited (${signal ?? `code ${code}`}) before serving` });
    const timer = setTimeout(
      () => done({ kind: "successor-failed", error: `not serving after ${timeoutMs / 1000} s` }),
      timeoutMs,
    );
    const onError = (err: Error): void => done({ kind: "successor-failed", error: err.message });
    successor.on("message", onMessage);
    successor.once("exit", onExit);
    successor.once("error", onError);
  });
}

/** The successor's side: every socket the old keeper sends, until it says that was all. */
export function receiveHandover(timeoutMs: number): Promise<Map<string, HeldSocket>> {
  return new Promise((resolve, reject) => {
    const held = new Map<string, HeldSocket>();
    const done = (err?: Error): void => {
      clearTimeout(timer);
      process.off("message", onMessage);
      if (err === undefined) resolve(held);
      else reject(err);
    };
    const onMessage = (m: unknown, handle: unknown): void => {
      if (!isHandoverMessage(m)) return;
      if (m.kind === "handover-end") {
        done(m.count === held.size ? undefined : new Error(`${held.size} of ${m.count} sockets received`));
        return;
      }
      if (typeof handle !== "object" || handle === null) {
        done(new Error(`no handle came with ${m.key}`));
        return;
      }
      if (m.protocol === "udp") {
        const socket = handle as dgram.Socket;
        // It arrives reading: stopped in this tick, so every datagram stays for a worker.
        holdUdp(socket);
        held.set(m.key, { protocol: "udp", socket, port: m.port });
      } else held.set(m.key, { protocol: "tcp", handle: handle as { close(): void }, port: m.port });
    };
    const timer = setTimeout(() => done(new Error("the old keeper sent no sockets in time")), timeoutMs);
    process.on("message", onMessage);
    void tellPredecessor({ kind: "successor-listening" });
  });
}

/** The successor's word to the keeper it replaces. */
export function tellPredecessor(m: SuccessorMessage): Promise<void> {
  return new Promise((resolve) => {
    if (process.send === undefined || !process.connected) return resolve();
    process.send(m, undefined, {}, () => resolve());
  });
}
