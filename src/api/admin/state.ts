/**
 * The admin JSON API for the journal (design principle 1): every past revision can be listed, read,
 * diffed and restored; the journal can be verified, exported, imported and backed up. Each route
 * is one IAM action (`ballast:ReadState`, `ballast:RestoreState`, `ballast:ExportState`, … in
 * model/access.ts ADMIN_ROUTES), authorized by the handler before it gets here. Restore and import are ordinary journal revisions (actions `RestoreState`,
 * `ImportState`) with principal, source address and request id, so each can itself be undone.
 *
 *   GET  /admin/v1/state/history?lb=&limit=&before=  → { head, revisions, next? }
 *   GET  /admin/v1/state/show?at=REV|TIME            → { revision, time, loadBalancers, instances, credentials }
 *   GET  /admin/v1/state/diff?from=A&to=B            → { from, to, lines, diff }
 *   POST /admin/v1/state/restore  { to, loadBalancers?, includeCredentials?, allowEmpty? }
 *                                                    → { target, revision, lines, diff, warnings }
 *   GET  /admin/v1/state/verify                      → VerifyReport (200 also when not ok)
 *   GET  /admin/v1/state/export                      → the export document, as its own JSON text
 *   POST /admin/v1/state/import?includeCredentials=false&acceptUnsigned=true   body: an export
 *                                                    → { revision, exportRevision, keptCredentials, lines, diff }
 *        (the caller's own access key is never replaced by an import; an unsigned, version-1
 *        export is refused unless acceptUnsigned=true)
 *   GET  /admin/v1/state/backups                     → { backups }
 *   POST /admin/v1/state/backups                     → { backup }
 *   POST /admin/v1/state/compact  { through? | olderThanDays?, ticket }
 *                                                    → { through, compacted, compaction }
 *   GET  /admin/v1/state/compactions                 → { compactedThrough, compactions }
 *
 * `lines` says every change in words, one per line; `diff` is the same as data (`StateDiff` of
 * store/ops/diff.ts): `entities`, each `{kind, key, change, fields}` with every changed field path by
 * path (`listeners[port=80].policyNames`) and its before and after values — never a secret.
 *
 * Compaction (action `CompactJournal`, IAM action `ballast:CompactJournal`, a change ticket required) removes history older
 * than the retention period; see store/ops/compact.ts for its rules.
 *
 * Progress: verify, restore and import answer a request with `Accept: application/x-ndjson` as a
 * stream of lines — `{"progress":{phase,done,total,elapsedMs}}` at most every 250 ms and at least
 * every 2 s, then one `{"result":…}` or `{"error":{code,message}}`. The 200 status is committed
 * only with the first line, so an error found before any work (an unknown revision, a corrupt
 * document, a missing role) still gets its own HTTP status and the plain JSON error body. Without
 * that Accept header they answer plain JSON. Either way the server logs progress every 5 s.
 */
import type { ServerResponse } from "node:http";
import { BallastError } from "../../model/errors.js";
import { type Certificate, type Credential, ENTITY_KINDS, type EntityKind } from "../../model/types.js";
import {
  compactJournal,
  createBackup,
  diffLines,
  diffRevisions,
  exportState,
  importState,
  listBackups,
  parseExport,
  type RestoreOptions,
  requireKept,
  requireRevision,
  restore,
  revisionAtTime,
  type StateDiff,
  serializeExport,
  stateAt,
  stateEntries,
  verifyJournal,
} from "../../store/ops/index.js";
import type { Revision, RevisionMeta, Store } from "../../store/store.js";
import type { Logger } from "../../util/logger.js";
import { type Json, wholeParam } from "./common.js";
import { sendText, streamed } from "./progress-stream.js";
import { parseCompactBody, parseRestoreBody } from "./state-bodies.js";

export const STATE_PREFIX = "/admin/v1/state";
/** An import carries the whole state; every other state route takes at most a small JSON body. */
export const IMPORT_MAX_BODY_BYTES = 256 * 1024 * 1024;

export interface StateRoutesOptions {
  readonly store: Store;
  readonly logger: Logger;
  /** Where backups are written and listed; without it the backup routes answer NotFound. */
  readonly backupDir?: string;
  /** History younger than this many days is never compacted (default 90). */
  readonly retentionDays?: number;
}

export interface StateCall {
  readonly method: string;
  /** The path below STATE_PREFIX, e.g. `/history`. */
  readonly route: string;
  readonly query: URLSearchParams;
  readonly body: Buffer;
  readonly accept: string | undefined;
  readonly credential: Credential;
  readonly meta: Omit<RevisionMeta, "action">;
}

export function isStatePath(path: string): boolean {
  return path === STATE_PREFIX || path.startsWith(`${STATE_PREFIX}/`);
}

/** Handles one authenticated state call, writing the response; throws BallastErrors before writing. */
export function createStateRoutes(
  opts: StateRoutesOptions,
): (call: StateCall, res: ServerResponse) => Promise<void> {
  const { store } = opts;
  const logger = opts.logger.child({ component: "admin-state" });

  return async (call, res) => {
    const key = `${call.method} ${call.route}`;
    const send = (body: Json): void => sendText(res, 200, "application/json", JSON.stringify(body), call);
    switch (key) {
      case "GET /history":
        return send(await history(call.query));
      case "GET /show":
        return send(await show(call.query.get("at") ?? "head"));
      case "GET /diff":
        return send(await diff(call.query));
      case "GET /verify":
        return streamed(call, res, logger, "verify", async (progress) => ({
          ...(await verifyJournal(store, { onProgress: (d, t) => progress("verify", d, t) })),
        }));
      case "POST /restore":
        return restoreRoute(call, res);
      case "GET /export": {
        const started = Date.now();
        const doc = await exportState(store);
        logger.info("state exported", {
          requestId: call.meta.requestId,
          principal: call.meta.principal,
          revision: doc.revision,
          entities: doc.entities.length,
          ms: Date.now() - started,
        });
        return sendText(res, 200, "application/json", serializeExport(doc), call);
      }
      case "POST /import":
        return importRoute(call, res);
      case "GET /backups":
        return send({ backups: await listBackups(backupDir()) });
      case "POST /compact":
        return streamed(call, res, logger, "compact", async (progress) => {
          const body = parseCompactBody(call.body);
          const result = await compactJournal(store, {
            ...body,
            // The approved change ticket the handler admitted the call with (x-ballast-ticket).
            ticket: call.meta.ticket ?? body.ticket,
            ...(opts.retentionDays === undefined ? {} : { retentionDays: opts.retentionDays }),
            meta: { ...call.meta, action: "CompactJournal" },
            onProgress: (phase, d, t) => progress(phase, d, t),
          });
          logger.info(result.compacted ? "journal compacted" : "journal already compacted", {
            ...call.meta,
            through: result.through,
            versionsRemoved: result.compacted ? result.record.versionsRemoved : 0,
          });
          return { through: result.through, compacted: result.compacted, compaction: { ...result.record } };
        });
      case "GET /compactions":
        return send({
          compactedThrough: await store.compactedThrough(),
          compactions: (await store.compactions()).map((c) => ({ ...c })),
        });
      case "POST /backups": {
        const backup = await createBackup(store, backupDir());
        logger.info("backup written on request", {
          ...call.meta,
          file: backup.file,
          revision: backup.revision,
        });
        return send({ backup });
      }
    }
    throw new BallastError("NotFound", `No route for ${call.method} ${STATE_PREFIX}${call.route}`);
  };

  function backupDir(): string {
    if (opts.backupDir === undefined)
      throw new BallastError("NotFound", "Backups are not configured on this control plane");
    return opts.backupDir;
  }

  async function history(query: URLSearchParams): Promise<Json> {
    const limit = wholeParam(query, "limit", 1, 1000) ?? 50;
    const head = await store.head();
    const before = wholeParam(query, "before", 1, Number.MAX_SAFE_INTEGER);
    const top = Math.min(head, before === undefined ? head : before - 1);
    const lb = query.get("lb");
    if (lb === null) {
      const from = Math.max(0, top - limit);
      const revisions = (await store.revisions(from, top)).map((r) => entry(r)).reverse();
      return { head, revisions, ...(from > 0 ? { next: from + 1 } : {}) };
    }
    const versions = await store.history("loadBalancer", lb);
    if (versions.length === 0)
      throw new BallastError("LoadBalancerNotFound", `No revision ever touched load balancer '${lb}'`);
    const changes = versions.map((v, i) => ({
      number: v.revision,
      change: v.doc === null ? "deleted" : i === 0 || versions[i - 1]?.doc === null ? "created" : "modified",
    }));
    const eligible = changes.filter((c) => c.number <= top);
    const page = eligible.slice(-limit).reverse();
    const revisions: Json[] = [];
    for (const c of page) {
      const r = await store.revision(c.number);
      if (r) revisions.push(entry(r, c.change));
    }
    const oldest = page.at(-1);
    const more = oldest !== undefined && eligible.length > page.length;
    return { head, loadBalancer: lb, revisions, ...(more ? { next: oldest.number } : {}) };
  }

  async function show(at: string): Promise<Json> {
    const revision = await resolveRevision(store, at, "at");
    const state = await stateAt(store, revision);
    const grouped = Object.fromEntries(ENTITY_KINDS.map((k) => [k, [] as unknown[]])) as Record<
      EntityKind,
      unknown[]
    >;
    for (const e of stateEntries(state)) grouped[e.kind].push(withoutSecrets(e.kind, e.doc));
    const time = revision === 0 ? undefined : (await store.revision(revision))?.time;
    return {
      revision,
      ...(time === undefined ? {} : { time }),
      loadBalancers: grouped.loadBalancer,
      instances: grouped.instance,
      credentials: grouped.credential,
      certificates: grouped.certificate,
      subnets: grouped.subnet,
      limits: grouped.limit,
      principals: grouped.principal,
      policies: grouped.accessPolicy,
    };
  }

  async function diff(query: URLSearchParams): Promise<Json> {
    const fromRaw = query.get("from");
    if (fromRaw === null)
      throw new BallastError("MissingParameter", "from is required: a revision or a time");
    const from = await resolveRevision(store, fromRaw, "from");
    const to = await resolveRevision(store, query.get("to") ?? "head", "to");
    const d = await diffRevisions(store, from, to);
    return { from, to, lines: diffLines(d), diff: d };
  }

  async function restoreRoute(call: StateCall, res: ServerResponse): Promise<void> {
    const body = parseRestoreBody(call.body);
    const to: RestoreOptions["to"] = typeof body.to === "number" ? body.to : { time: body.to };
    // Resolve and check the target before answering, so a bad one keeps its own HTTP status.
    if (typeof to === "number") await requireRevision(store, to);
    await requireKept(store, typeof to === "number" ? to : await revisionAtTime(store, to.time));
    return streamed(call, res, logger, "restore", async (progress) => {
      const result = await restore(store, {
        to,
        meta: { ...call.meta, action: "RestoreState" },
        // After the replay, the new revision is written in one transaction that reports nothing.
        onProgress: (d, t) => progress(d === t ? "apply" : "replay", d === t ? 0 : d, d === t ? 0 : t),
        ...(body.loadBalancers === undefined ? {} : { loadBalancers: body.loadBalancers }),
        ...(body.includeCredentials === undefined ? {} : { includeCredentials: body.includeCredentials }),
        ...(body.allowEmpty === undefined ? {} : { allowEmpty: body.allowEmpty }),
      });
      logger.info("state restored", {
        ...call.meta,
        target: result.target,
        revision: result.revision?.number,
        changes: diffLines(result.diff).length,
      });
      return {
        target: result.target,
        revision: result.revision ? entry(result.revision) : null,
        ...diffBody(result.diff),
        warnings: result.warnings,
      };
    });
  }

  async function importRoute(call: StateCall, res: ServerResponse): Promise<void> {
    const flag = call.query.get("includeCredentials");
    if (flag !== null && flag !== "true" && flag !== "false")
      throw new BallastError("InvalidParameterValue", "includeCredentials must be true or false");
    const unsigned = call.query.get("acceptUnsigned");
    if (unsigned !== null && unsigned !== "true" && unsigned !== "false")
      throw new BallastError("InvalidParameterValue", "acceptUnsigned must be true or false");
    const acceptUnsigned = unsigned === "true";
    const doc = parseExport(call.body.toString("utf8"), "the request body", {
      key: store.codec.key,
      acceptUnsigned,
    });
    return streamed(call, res, logger, "import", async (progress) => {
      progress("apply", 0, 0);
      const result = await importState(
        store,
        doc,
        { ...call.meta, action: "ImportState" },
        {
          ...(flag === null ? {} : { includeCredentials: flag === "true" }),
          keepCredentials: [call.credential.accessKeyId],
          acceptUnsigned,
        },
      );
      logger.info("state imported", {
        ...call.meta,
        exportRevision: doc.revision,
        unsigned: doc.version === 1,
        revision: result.revision?.number,
        changes: diffLines(result.diff).length,
        keptCredentials: result.keptCredentials,
      });
      const kept = result.keptCredentials.map(
        (id) => `credential ${id}: kept as it is (the importing caller's own key is never replaced)`,
      );
      return {
        revision: result.revision ? entry(result.revision) : null,
        exportRevision: doc.revision,
        keptCredentials: [...result.keptCredentials],
        lines: [...kept, ...diffLines(result.diff)],
        diff: result.diff,
      };
    });
  }
}

/** A revision as the history lists it: who, when, from where, why — no hashes. */
function entry(r: Revision, change?: string): Json {
  return {
    number: r.number,
    time: r.time,
    principal: r.principal,
    sourceIp: r.sourceIp,
    requestId: r.requestId,
    action: r.action,
    ...(r.ticket === undefined ? {} : { ticket: r.ticket }),
    ...(change === undefined ? {} : { change }),
  };
}

function diffBody(d: StateDiff): Json {
  return { lines: diffLines(d), diff: d };
}

/** `head`, a revision number, or an ISO 8601 time (the newest revision at or before it). */
export async function resolveRevision(store: Store, raw: string, name: string): Promise<number> {
  const value = raw.trim();
  if (value === "head") return store.head();
  if (/^\d+$/.test(value)) {
    const n = Number(value);
    await requireRevision(store, n);
    return n;
  }
  if (Number.isNaN(Date.parse(value)))
    throw new BallastError(
      "ValidationError",
      `${name} must be a revision number or an ISO 8601 time, not '${raw}'`,
    );
  return revisionAtTime(store, value);
}

/** Secrets never leave the store through `show`: credential secrets and certificate private keys. */
function withoutSecrets(kind: EntityKind, doc: unknown): unknown {
  if (kind === "credential") {
    const { secretAccessKey: _secret, ...rest } = doc as Credential;
    return rest;
  }
  if (kind === "certificate") {
    const { privateKey: _key, ...rest } = doc as Certificate;
    return rest;
  }
  return doc;
}
