/**
 * A replica's notification connection: LISTEN on the journal channel, and on its loss a new one
 * after a pause (one warning a minute while the database is away). What the notifications say
 * goes to the replica: a revision number, or "reload" for anything else (a compaction, a new
 * epoch) and after every reconnection (notifications sent meanwhile were lost).
 */
import pg from "pg";
import type { Logger } from "../../util/logger.js";
import { JOURNAL_CHANNEL } from "./append.js";

export interface JournalListenerOptions {
  readonly connectionString: string;
  /** The journal's schema, as named: notifications of other schemas are not this replica's. */
  readonly schema: string;
  readonly logger: Logger;
  /** A revision was committed. */
  readonly onRevision: (n: number) => void;
  /** The journal changed in a way a revision number does not say, or notifications were lost. */
  readonly onReload: () => void;
}

const RECONNECT_MS = 500;
const WARN_EVERY_MS = 60_000;

export class JournalListener {
  readonly #opts: JournalListenerOptions;
  #client: pg.Client | undefined;
  #retry: NodeJS.Timeout | undefined;
  #warnedAt = 0;
  #closed = false;

  constructor(opts: JournalListenerOptions) {
    this.#opts = opts;
  }

  /** Connects and listens; rejects if the first connection fails. */
  async start(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.#opts.connectionString,
      keepAlive: true,
      application_name: `br:${this.#opts.schema}`.slice(0, 63),
    });
    client.on("error", (err) => this.#lost(client, err));
    client.on("end", () => this.#lost(client, new Error("notification connection ended")));
    client.on("notification", (msg) => {
      if (msg.channel !== JOURNAL_CHANNEL || msg.payload === undefined) return;
      const prefix = `${this.#opts.schema}:`;
      if (!msg.payload.startsWith(prefix)) return;
      const rest = msg.payload.slice(prefix.length);
      const n = Number(rest);
      if (Number.isInteger(n) && rest !== "") this.#opts.onRevision(n);
      else this.#opts.onReload();
    });
    this.#client = client;
    await client.connect();
    await client.query(`LISTEN ${JOURNAL_CHANNEL}`);
  }

  #lost(client: pg.Client, err: unknown): void {
    if (this.#client !== client) return;
    this.#client = undefined;
    client.end().catch(() => undefined);
    if (this.#closed) return;
    // Every failed reconnection ends here too: one line a minute while the database is away.
    if (Date.now() - this.#warnedAt >= WARN_EVERY_MS) {
      this.#warnedAt = Date.now();
      this.#opts.logger.warn("journal notifications lost; reconnecting, then reloading the state", { err });
    }
    this.#retry = setTimeout(() => {
      this.start().then(
        () => this.#opts.onReload(),
        (e: unknown) => {
          // Unless the failed connection's own events already scheduled the next try.
          const failed = this.#client;
          if (failed !== undefined) this.#lost(failed, e);
        },
      );
    }, RECONNECT_MS);
    this.#retry.unref();
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#retry !== undefined) clearTimeout(this.#retry);
    const client = this.#client;
    this.#client = undefined;
    await client?.end().catch(() => undefined);
  }
}
