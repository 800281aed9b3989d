/**
 * The client side of the admin state API: SigV4-signed calls, NDJSON progress streams for the
 * long operations, and the progress line drawn while they run.
 */
import { ApiError, apiErrorOf } from "./errors.js";
import { type ChangeAuthority, type ClientCredentials, SignedClient } from "./signed-client.js";

export { ApiError };

const PREFIX = "/admin/v1/state";

export interface ProgressLine {
  readonly phase: string;
  readonly done: number;
  readonly total: number;
}

/** Progress on stderr while a call runs: a redrawn line on a terminal, a line every 5 s otherwise. */
export class ProgressDisplay {
  readonly #label: string;
  readonly #tty = process.stderr.isTTY === true;
  readonly #started = Date.now();
  readonly #timer: NodeJS.Timeout;
  #progress: ProgressLine | undefined;
  #frame = 0;
  #drawn = false;

  constructor(label: string) {
    this.#label = label;
    this.#timer = setInterval(() => this.#draw(), this.#tty ? 120 : 5000);
    this.#timer.unref();
  }

  update(p: ProgressLine): void {
    this.#progress = p;
  }

  stop(): void {
    clearInterval(this.#timer);
    if (this.#tty && this.#drawn) process.stderr.write("\r\x1b[K");
  }

  #draw(): void {
    const elapsed = ((Date.now() - this.#started) / 1000).toFixed(1);
    const p = this.#progress;
    const detail =
      p === undefined
        ? "in progress"
        : p.total > 0
          ? `${p.phase} ${p.done}/${p.total} (${Math.floor((100 * p.done) / p.total)}%)`
          : p.phase;
    const text = `${this.#label}: ${detail}, ${elapsed}s`;
    this.#drawn = true;
    if (this.#tty) process.stderr.write(`\r\x1b[K${"|/-\\"[this.#frame++ % 4]} ${text}`);
    else process.stderr.write(`${text}\n`);
  }
}

/** SigV4-signed calls to the state routes, with NDJSON progress streams for the long ones. */
export class StateClient {
  readonly #client: SignedClient;

  constructor(endpoint: string, creds: ClientCredentials, region: string, authority: ChangeAuthority = {}) {
    this.#client = new SignedClient(endpoint, creds, region, authority);
  }

  get<T>(path: string): Promise<T> {
    return this.send<T>(undefined, "GET", path);
  }

  async send<T>(label: string | undefined, method: string, path: string, body = ""): Promise<T> {
    return JSON.parse(await this.text(label, method, path, body)) as T;
  }

  /** The response body of a successful call; an ApiError for any other. */
  async text(label: string | undefined, method: string, path: string, body = ""): Promise<string> {
    const display = label === undefined ? undefined : new ProgressDisplay(label);
    try {
      const contentType = body === "" ? undefined : "application/json";
      const res = await this.#client.send(method, `${PREFIX}${path}`, body, contentType, "application/json");
      if (res.status >= 300) throw apiError(res.status, res.body);
      return res.body;
    } finally {
      display?.stop();
    }
  }

  /** A long call: progress lines are drawn as they come; resolves with the final result. */
  async stream<T>(label: string, method: string, path: string, body = ""): Promise<T> {
    const display = new ProgressDisplay(label);
    try {
      const res = await this.#fetch(method, path, body, "application/x-ndjson");
      if (!res.ok) throw apiError(res.status, await res.text());
      if (!(res.headers.get("content-type") ?? "").includes("ndjson") || !res.body)
        return JSON.parse(await res.text()) as T;
      const decoder = new TextDecoder();
      let buffered = "";
      for await (const chunk of res.body) {
        buffered += decoder.decode(chunk as Uint8Array, { stream: true });
        for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
          const line = buffered.slice(0, nl).trim();
          buffered = buffered.slice(nl + 1);
          if (line === "") continue;
          const msg = JSON.parse(line) as {
            progress?: ProgressLine;
            result?: T;
            error?: { code: string; message: string };
          };
          if (msg.progress) display.update(msg.progress);
          else if (msg.error) throw new ApiError(msg.error.code, msg.error.message);
          else if (msg.result !== undefined) return msg.result;
        }
      }
      throw new ApiError(
        "IncompleteResponse",
        `the ${label} response ended before its result; check the control plane's log`,
      );
    } finally {
      display.stop();
    }
  }

  #fetch(method: string, path: string, body: string, accept: string): Promise<Response> {
    return this.#client.fetch(method, `${PREFIX}${path}`, {
      body,
      accept,
      ...(body === "" ? {} : { contentType: "application/json" }),
    });
  }
}

function apiError(status: number, text: string): ApiError {
  return apiErrorOf(status, text);
}
