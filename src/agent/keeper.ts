/**
 * An agent's keeper: a small long-lived process that owns the agent's listening sockets and runs
 * the agent itself as a worker process it hands them to (HAProxy's `-x`, Envoy's hot restart).
 *
 * The keeper binds each address:port the worker asks for but never listens on it itself: the
 * worker does, on a duplicate of the descriptor. The socket belongs to the kernel for as long as
 * either process holds it, so when the worker crashes the keeper's copy keeps it listening and
 * the kernel keeps completing handshakes into its accept queue; the next worker takes the same
 * socket and accepts them. Nobody is refused — clients wait for the new worker instead.
 *
 * Reload (SIGUSR2, `ballast agent --reload`): a new worker starts beside the running one, applies
 * the last-known-good configuration on the same sockets and says it is ready; only then is the old
 * one told to stop accepting and drain its open connections (bounded by the drain timeout).
 *
 * The DNS responder's UDP socket is held the same way: a datagram socket shared by two processes
 * delivers each datagram to one of them, and while no worker reads it the kernel queues them, so
 * no query is lost between workers. The keeper itself never reads it (its receiving is stopped).
 *
 * Upgrade (keeper-handover.ts): the keeper hands every socket it holds to a successor keeper.
 */
import type { ChildProcess } from "node:child_process";
import dgram from "node:dgram";
import net from "node:net";
import { getSystemErrorName } from "node:util";
import type { Logger } from "../util/logger.js";
import {
  isWorkerMessage,
  type KeeperMessage,
  type SocketProtocol,
  type WorkerMessage,
} from "./keeper-protocol.js";
import { setReceiving } from "./udp-handle.js";

/** A bound, not listening, TCP handle (the kind node's cluster primary hands its workers). */
interface ServerHandle {
  close(): void;
  getsockname?(out: { port?: number }): number;
}

/** A socket the keeper holds: the handle it passes on, and the port it is bound to. */
export type HeldSocket =
  | { readonly protocol: "tcp"; readonly handle: ServerHandle; readonly port: number }
  | { readonly protocol: "udp"; readonly socket: dgram.Socket; readonly port: number };

/** A held socket as sent over an IPC channel (to a worker or a successor keeper). */
export interface HeldSocketEntry {
  readonly key: string;
  readonly protocol: SocketProtocol;
  readonly port: number;
  readonly handle: net.Server | dgram.Socket;
}

type CreateServerHandle = (address: string, port: number, addressType: 4 | 6) => ServerHandle | number;

/**
 * node's own helper for a bound server handle that does not accept (net.Server would, in this
 * process). Undocumented but stable since node 0.x: cluster is built on it.
 */
const createServerHandle = (net as unknown as { _createServerHandle: CreateServerHandle })
  ._createServerHandle;

/** Workers this keeper started (this one included) and those that died unasked. */
export interface WorkerHistory {
  readonly starts: number;
  readonly crashes: number;
}

export interface KeeperOptions {
  /** Starts one worker process with an IPC channel, told how many came before (for its metrics). */
  readonly spawnWorker: (history: WorkerHistory) => ChildProcess;
  readonly logger: Logger;
  /** How long a reloaded worker may take to serve before the reload is abandoned. */
  readonly readyTimeoutMs?: number;
  /** How long an old worker drains its connections after a reload. */
  readonly drainTimeoutMs: number;
  /** Told the pid of the worker that serves (on every change). */
  readonly onWorker?: (pid: number) => void;
  /** Sockets handed over by the keeper this one replaces, by key (see `socketKey`). */
  readonly inherited?: ReadonlyMap<string, HeldSocket>;
}

/** How a keeper files a socket: by what the worker asked for (port 0 stays 0: the same free port). */
export function socketKey(protocol: SocketProtocol, address: string, port: number): string {
  return protocol === "tcp" ? `${address}:${port}` : `udp:${address}:${port}`;
}

/**
 * A UDP socket bound and held, never read in this process: the datagrams are its workers'. A
 * socket node hands over through IPC arrives receiving; this stops it in the same tick, before
 * any datagram can be read.
 */
export function holdUdp(socket: dgram.Socket): void {
  setReceiving(socket, false);
  // A datagram socket held for others keeps no event loop alive by itself.
  socket.unref();
}

function bindUdp(address: string, port: number): Promise<dgram.Socket> {
  const socket = dgram.createSocket(address.includes(":") ? "udp6" : "udp4");
  return new Promise((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(port, address, () => {
      socket.off("error", reject);
      holdUdp(socket);
      resolve(socket);
    });
  });
}

function closeHeld(h: HeldSocket): void {
  if (h.protocol === "tcp") h.handle.close();
  else h.socket.close();
}

/** A worker that crashes within this long of its start is restarted after a growing pause. */
const CRASH_WINDOW_MS = 2000;
const MAX_RESPAWN_DELAY_MS = 5000;
/** An old worker still alive this long after its drain timeout is killed. */
const DRAIN_SLACK_MS = 5000;
const STOP_GRACE_MS = 10_000;

export class Keeper {
  readonly #opts: KeeperOptions;
  readonly #log: Logger;
  readonly #sockets = new Map<string, HeldSocket>();
  readonly #workers = new Set<ChildProcess>();
  readonly #ready = new Map<ChildProcess, () => void>();
  #current: ChildProcess | undefined;
  #candidate: ChildProcess | undefined;
  #startedAt = 0;
  #respawnDelay = 0;
  #stopping = false;
  #crashes = 0;
  #starts = 0;

  constructor(opts: KeeperOptions) {
    this.#opts = opts;
    this.#log = opts.logger.child({ component: "keeper" });
    for (const [key, held] of opts.inherited ?? []) this.#sockets.set(key, held);
  }

  /** Every socket held, as handles to send to a successor keeper. */
  held(): HeldSocketEntry[] {
    return [...this.#sockets].map(([key, h]) => ({
      key,
      protocol: h.protocol,
      port: h.port,
      // A raw TCP handle goes as node's "net.Native" (typed as the Server it becomes).
      handle: h.protocol === "tcp" ? (h.handle as net.Server) : h.socket,
    }));
  }

  /** True once the serving worker has said it is ready; false if it died or timed out first. */
  serving(timeoutMs: number): Promise<boolean> {
    const current = this.#current;
    return current === undefined ? Promise.resolve(false) : this.#whenReady(current, timeoutMs);
  }

  /**
   * After a successor keeper took over: no more workers; the running one drains (bounded by the
   * drain timeout) and exits; then this keeper's copies of the sockets are closed (the
   * successor's keep them open).
   */
  async retire(): Promise<void> {
    this.#stopping = true;
    const workers = [...this.#workers];
    for (const w of workers) this.#retire(w);
    await Promise.all(
      workers.map((w) =>
        w.exitCode !== null || w.signalCode !== null
          ? undefined
          : new Promise<void>((resolve) => w.once("exit", () => resolve())),
      ),
    );
    for (const h of this.#sockets.values()) closeHeld(h);
    this.#sockets.clear();
  }

  /** Listening sockets held now. */
  get sockets(): number {
    return this.#sockets.size;
  }

  /** Workers that died without being asked to, since start. */
  get crashes(): number {
    return this.#crashes;
  }

  start(): void {
    this.#current = this.#spawn();
  }

  /**
   * Starts a new worker on the same sockets; once it serves, the old one drains and exits.
   * False (logged) when the new worker did not become ready: the old one keeps serving.
   */
  async reload(): Promise<boolean> {
    if (this.#stopping) return false;
    if (this.#candidate !== undefined) {
      this.#log.warn("reload already under way");
      return false;
    }
    const candidate = this.#spawn();
    this.#candidate = candidate;
    const ready = await this.#whenReady(candidate, this.#opts.readyTimeoutMs ?? 30_000);
    this.#candidate = undefined;
    if (!ready) {
      this.#log.error("new agent worker did not become ready; the running one keeps serving", {
        pid: candidate.pid,
      });
      candidate.kill("SIGKILL");
      if (this.#current === undefined && !this.#stopping) this.#current = this.#spawn();
      return false;
    }
    const old = this.#current;
    this.#current = candidate;
    if (candidate.pid !== undefined) this.#opts.onWorker?.(candidate.pid);
    if (old !== undefined) this.#retire(old);
    this.#log.info("agent worker replaced", { old: old?.pid, new: candidate.pid });
    return true;
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    await Promise.all(
      [...this.#workers].map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.exitCode !== null || w.signalCode !== null) return resolve();
            const kill = setTimeout(() => w.kill("SIGKILL"), STOP_GRACE_MS);
            w.once("exit", () => {
              clearTimeout(kill);
              resolve();
            });
            w.kill("SIGTERM");
          }),
      ),
    );
    for (const h of this.#sockets.values()) closeHeld(h);
    this.#sockets.clear();
  }

  #spawn(): ChildProcess {
    this.#starts++;
    const child = this.#opts.spawnWorker({ starts: this.#starts, crashes: this.#crashes });
    this.#startedAt = Date.now();
    this.#workers.add(child);
    child.on("message", (m: unknown) => this.#onMessage(child, m));
    child.once("exit", (code, signal) => this.#onExit(child, code, signal));
    if (child.pid !== undefined && this.#candidate === undefined && this.#current === undefined)
      this.#opts.onWorker?.(child.pid);
    this.#log.info("agent worker started", { pid: child.pid });
    return child;
  }

  #onMessage(child: ChildProcess, m: unknown): void {
    if (!isWorkerMessage(m)) return;
    if (m.kind === "ready") {
      this.#respawnDelay = 0;
      this.#ready.get(child)?.();
      return;
    }
    if (m.kind === "release") {
      // Only the worker in charge of the configuration removes listeners.
      if (child !== this.#current) return;
      const key = socketKey("tcp", m.address, m.port);
      const held = this.#sockets.get(key);
      if (held !== undefined) closeHeld(held);
      this.#sockets.delete(key);
      return;
    }
    void this.#acquire(m).then(
      (held) => {
        const handle = held.protocol === "tcp" ? (held.handle as net.Server) : held.socket;
        this.#send(child, { kind: "socket", id: m.id, port: held.port }, handle);
      },
      (err: unknown) => this.#send(child, { kind: "socket", id: m.id, error: (err as Error).message }),
    );
  }

  async #acquire(m: Extract<WorkerMessage, { kind: "acquire" }>): Promise<HeldSocket> {
    const protocol = m.protocol ?? "tcp";
    const key = socketKey(protocol, m.address, m.port);
    const have = this.#sockets.get(key);
    if (have !== undefined) return have;
    let held: HeldSocket;
    if (protocol === "udp") {
      const socket = await bindUdp(m.address, m.port).catch((e: NodeJS.ErrnoException) => {
        throw new Error(`bind udp ${m.address}:${m.port}: ${e.code ?? e.message}`);
      });
      held = { protocol, socket, port: socket.address().port };
    } else {
      const h = createServerHandle(m.address, m.port, m.address.includes(":") ? 6 : 4);
      if (typeof h === "number") throw new Error(`bind ${m.address}:${m.port}: ${getSystemErrorName(h)}`);
      const name: { port?: number } = {};
      h.getsockname?.(name);
      held = { protocol, handle: h, port: name.port ?? m.port };
    }
    // Two acquires of the same new socket at once: the first one bound wins.
    const raced = this.#sockets.get(key);
    if (raced !== undefined) {
      closeHeld(held);
      return raced;
    }
    this.#sockets.set(key, held);
    return held;
  }

  #send(child: ChildProcess, m: KeeperMessage, handle?: net.Server | dgram.Socket): void {
    if (!child.connected) return;
    // A raw TCP handle goes as node's "net.Native": the child receives a duplicate descriptor.
    child.send(m, handle, (err) => {
      if (err) this.#log.warn("could not reach agent worker", { pid: child.pid, err });
    });
  }

  #whenReady(child: ChildProcess, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const done = (ok: boolean): void => {
        clearTimeout(timer);
        child.off("exit", onExit);
        this.#ready.delete(child);
        resolve(ok);
      };
      const onExit = (): void => done(false);
      const timer = setTimeout(() => done(false), timeoutMs);
      child.once("exit", onExit);
      this.#ready.set(child, () => done(true));
    });
  }

  #retire(old: ChildProcess): void {
    this.#send(old, { kind: "drain", graceMs: this.#opts.drainTimeoutMs });
    const kill = setTimeout(() => old.kill("SIGKILL"), this.#opts.drainTimeoutMs + DRAIN_SLACK_MS);
    kill.unref();
    old.once("exit", () => clearTimeout(kill));
  }

  #onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    this.#workers.delete(child);
    if (child !== this.#current) return;
    this.#current = undefined;
    if (this.#stopping) return;
    this.#crashes++;
    if (this.#candidate !== undefined) {
      this.#log.warn("agent worker exited during a reload; its successor takes over", { code, signal });
      return;
    }
    // Restart at once, unless it keeps dying right after its start (then back off).
    const quick = Date.now() - this.#startedAt < CRASH_WINDOW_MS;
    this.#respawnDelay = quick ? Math.min(Math.max(this.#respawnDelay * 2, 100), MAX_RESPAWN_DELAY_MS) : 0;
    this.#log.warn("agent worker exited; starting another on the same listening sockets", {
      pid: child.pid,
      code,
      signal,
      delayMs: this.#respawnDelay,
      sockets: this.#sockets.size,
    });
    setTimeout(() => {
      if (!this.#stopping && this.#current === undefined && this.#candidate === undefined)
        this.#current = this.#spawn();
    }, this.#respawnDelay);
  }
}
