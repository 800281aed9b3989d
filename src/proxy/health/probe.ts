import { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import type { HealthCheckSpec } from "../../model/node-spec.js";
import { type BackendAuth, connectBackendTls } from "../backend-auth.js";

/** Receives the result of one probe. */
export interface ProbeSink {
  onProbeResult(ok: boolean): void;
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

  /** TLS checks are rarer than plain ones: their handlers are closures that ignore a stale socket. */
  #runTls(): void {
    const onHandshake = (err: Error | null, sock: TLSSocket): void => {
      if (this.#socket !== sock) return;
      if (err === null) this.connected();
      else this.failed();
    };
    const s = connectBackendTls({ host: this.#host, port: this.#target.port }, this.#auth, onHandshake);
    this.#socket = s;
    this.#head = "";
    const current = (): boolean => this.#socket === s;
    s.on("error", () => current() && this.failed());
    s.on("close", () => current() && this.failed());
    if (this.#target.protocol === "HTTPS") s.on("data", (chunk: Buffer) => current() && this.data(chunk));
    this.#timer = setTimeout(onProbeTimeout, this.#timeoutMs, this);
    this.#timer.unref();
  }

  /** @internal */ connected(): void {
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
      if (this.#head.length > MAX_STATUS_LINE) this.#finish(false);
      return;
    }
    // "HTTP/1.1 200 OK": only 200 is healthy.
    const line = this.#head.slice(0, eol);
    this.#finish(
      line.startsWith("HTTP/1.") && line.slice(9, 12) === "200" && (line.length === 12 || line[12] === " "),
    );
  }

  /** @internal */ failed(): void {
    this.#finish(false);
  }

  /** Ends the current check; `ok` null means stopped (no result reported). */
  #finish(ok: boolean | null): void {
    const s = this.#socket;
    if (s === null) return;
    if (s instanceof ProbeSocket) s.probe = null;
    this.#socket = null;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    s.destroy();
    if (ok !== null) this.#sink.onProbeResult(ok);
  }
}

function onSocketConnect(this: ProbeSocket): void {
  this.probe?.connected();
}
function onSocketData(this: ProbeSocket, chunk: Buffer): void {
  this.probe?.data(chunk);
}
function onSocketError(this: ProbeSocket): void {
  this.probe?.failed();
}
function onSocketClose(this: ProbeSocket): void {
  this.probe?.failed();
}
function onProbeTimeout(probe: SocketProbe): void {
  probe.failed();
}
