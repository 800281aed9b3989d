import { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import type { HealthCheckFailure } from "../../model/agent-protocol.js";
import type { HealthCheckSpec } from "../../model/node-spec.js";
import { type BackendAuth, connectBackendTls } from "../backend-auth.js";

/** Why one check failed (the time is added by whoever records it). */
export type ProbeFailure = Omit<HealthCheckFailure, "at">;

/** Receives the result of one probe: a failure comes with its reason. */
export interface ProbeSink {
  onProbeResult(ok: boolean, failure?: ProbeFailure): void;
}

/** How far a check got: the layer a failure is blamed on (HAProxy's L4, L6, L7). */
type Stage = "connecting" | "handshaking" | "talking";

const DNS_CODES: ReadonlySet<string> = new Set(["ENOTFOUND", "EAI_AGAIN", "EAI_FAIL", "EAI_NONAME"]);
const RESET_CODES: ReadonlySet<string> = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED"]);

/** The failure an error of the check's socket at `stage` stands for; no error: the socket closed. */
function socketFailure(err: Error | undefined, stage: Stage): ProbeFailure {
  const code = (err as NodeJS.ErrnoException | undefined)?.code ?? "";
  if (stage === "connecting") {
    if (code === "ECONNREFUSED") return { kind: "refused", detail: "L4CON refused" };
    if (DNS_CODES.has(code)) return { kind: "dns", detail: `L4CON dns: ${code}` };
    if (RESET_CODES.has(code)) return { kind: "reset", detail: "L4CON reset" };
    return { kind: "other", detail: `L4CON ${code || err?.message || "closed"}` };
  }
  if (stage === "handshaking")
    return { kind: "tls", detail: `L6 TLS handshake: ${err?.message ?? "connection closed"}` };
  if (RESET_CODES.has(code)) return { kind: "reset", detail: "L7RSP reset" };
  if (err === undefined) return { kind: "other", detail: "L7RSP closed before the status line" };
  return { kind: "other", detail: `L7RSP ${code || err.message}` };
}

/** The failure of a check that ran out of time at `stage`. */
function timeoutFailure(stage: Stage): ProbeFailure {
  const layer = stage === "connecting" ? "L4TOUT" : stage === "handshaking" ? "L6TOUT" : "L7TOUT";
  return { kind: "timeout", detail: layer };
}

/**
 * One active check of one back end, reused for every check of it. `run` starts a check and the
 * sink hears exactly one result per run. Probes connect straight to the back end, never through
 * the proxy.
 */
export interface HealthProbe {
  readonly running: boolean;
  run(): void;
  stop(): void;
}

class ProbeSocket extends Socket {
  probe: SocketProbe | null = null;
}

const MAX_STATUS_LINE = 1024;

/**
 * TCP (connect succeeds), HTTP (GET answers 200), SSL (TLS handshake succeeds) and HTTPS (GET
 * over TLS answers 200) checks. Back-end certificates are not verified, as ELB does not, unless
 * the port has BackendServerAuthentication: then a certificate with none of its public keys fails
 * the SSL/HTTPS check. Event handlers are module functions that find their probe through the
 * socket, so a check allocates no closures and a late event from a finished check's socket is
 * ignored.
 */
export class SocketProbe implements HealthProbe {
  readonly #host: string;
  readonly #target: HealthCheckSpec;
  readonly #timeoutMs: number;
  readonly #sink: ProbeSink;
  readonly #request: string;
  readonly #auth: BackendAuth | null;
  #socket: Socket | null = null;
  #timer: NodeJS.Timeout | null = null;
  #head = "";
  #stage: Stage = "connecting";

  constructor(
    host: string,
    target: HealthCheckSpec,
    timeoutMs: number,
    sink: ProbeSink,
    auth: BackendAuth | null = null,
  ) {
    this.#auth = auth;
    this.#host = host;
    this.#target = target;
    this.#timeoutMs = timeoutMs;
    this.#sink = sink;
    this.#request =
      `GET ${target.path} HTTP/1.1\r\nHost: ${host}:${target.port}\r\n` +
      "User-Agent: ELB-HealthChecker/1.0\r\nAccept: */*\r\nConnection: close\r\n\r\n";
  }

  get running(): boolean {
    return this.#socket !== null;
  }

  run(): void {
    if (this.#socket !== null) return;
    if (this.#target.protocol === "HTTPS" || this.#target.protocol === "SSL") {
      this.#runTls();
      return;
    }
    const s = new ProbeSocket();
    s.probe = this;
    this.#socket = s;
    this.#head = "";
    this.#stage = "connecting";
    s.on("error", onSocketError);
    s.on("close", onSocketClose);
    s.on("connect", onSocketConnect);
    if (this.#target.protocol === "HTTP") s.on("data", onSocketData);
    this.#timer = setTimeout(onProbeTimeout, this.#timeoutMs, this);
    this.#timer.unref();
    s.connect(this.#target.port, this.#host);
  }

  stop(): void {
    this.#finish(null);
  }

  /** The failure of this check, given the error (if any) that ended it. */
  #failure(err?: Error): ProbeFailure {
    return socketFailure(err, this.#stage);
  }

  /** TLS checks are rarer than plain ones: their handlers are closures that ignore a stale socket. */
  #runTls(): void {
    const onHandshake = (err: Error | null, sock: TLSSocket): void => {
      if (this.#socket !== sock) return;
      if (err === null) this.connected();
      else this.failed(err);
    };
    const s = connectBackendTls({ host: this.#host, port: this.#target.port }, this.#auth, onHandshake);
    this.#socket = s;
    this.#head = "";
    this.#stage = "connecting";
    const current = (): boolean => this.#socket === s;
    s.once("connect", () => {
      if (current()) this.#stage = "handshaking";
    });
    s.on("error", (err: Error) => current() && this.failed(err));
    s.on("close", () => current() && this.failed());
    if (this.#target.protocol === "HTTPS") s.on("data", (chunk: Buffer) => current() && this.data(chunk));
    this.#timer = setTimeout(onProbeTimeout, this.#timeoutMs, this);
    this.#timer.unref();
  }

  /** @internal */ connected(): void {
    this.#stage = "talking";
    if (this.#target.protocol === "TCP" || this.#target.protocol === "SSL") {
      this.#finish(true);
      return;
    }
    this.#socket?.write(this.#request);
  }

  /** @internal */ data(chunk: Buffer): void {
    this.#head += chunk.toString("latin1");
    const eol = this.#head.indexOf("\r\n");
    if (eol === -1) {
      if (this.#head.length > MAX_STATUS_LINE)
        this.#finish(false, { kind: "other", detail: "L7RSP status line too long" });
      return;
    }
    // "HTTP/1.1 200 OK": only 200 is healthy.
    const line = this.#head.slice(0, eol);
    const code = line.slice(9, 12);
    if (!line.startsWith("HTTP/1.") || !/^\d{3}$/.test(code) || (line.length > 12 && line[12] !== " ")) {
      this.#finish(false, { kind: "other", detail: "L7RSP invalid status line" });
      return;
    }
    if (code === "200") this.#finish(true);
    else this.#finish(false, { kind: "status", detail: `L7STS/${code}`, status: Number(code) });
  }

  /** @internal The socket failed or closed (no error: closed) before the check was decided. */
  failed(err?: Error): void {
    if (this.#socket === null) return;
    this.#finish(false, this.#failure(err));
  }

  /** @internal */ timedOut(): void {
    if (this.#socket === null) return;
    this.#finish(false, timeoutFailure(this.#stage));
  }

  /** Ends the current check; `ok` null means stopped (no result reported). */
  #finish(ok: boolean | null, failure?: ProbeFailure): void {
    const s = this.#socket;
    if (s === null) return;
    if (s instanceof ProbeSocket) s.probe = null;
    this.#socket = null;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    s.destroy();
    if (ok !== null) this.#sink.onProbeResult(ok, failure);
  }
}

function onSocketConnect(this: ProbeSocket): void {
  this.probe?.connected();
}
function onSocketData(this: ProbeSocket, chunk: Buffer): void {
  this.probe?.data(chunk);
}
function onSocketError(this: ProbeSocket, err: Error): void {
  this.probe?.failed(err);
}
function onSocketClose(this: ProbeSocket): void {
  this.probe?.failed();
}
function onProbeTimeout(probe: SocketProbe): void {
  probe.timedOut();
}
