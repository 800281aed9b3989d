/**
 * `ballast state …`: the journal through the signed admin API — history, show, diff, restore,
 * verify, export, import, backups, compaction. Human output by default, `--json` for machines.
 *
 * Long operations show progress on stderr: verify, restore and import ask the server for an
 * NDJSON stream (`{progress}` lines, then `{result}`) and draw it; every other call shows the
 * time waited. On a terminal one line is redrawn; otherwise a line is printed every 5 s.
 */
import { readFile } from "node:fs/promises";
import { isBallastError } from "../model/errors.js";
import type { VerifyReport } from "../store/ops/verify.js";
import { UsageError } from "./args.js";
import { CHANGE_FLAGS_NOTE, changeAuthority } from "./change-flags.js";
import { credentials } from "./client.js";
import { parseCommand } from "./command.js";
import { errorLine } from "./errors.js";
import { STATE } from "./specs/state.js";
import { ApiError, StateClient } from "./state-client.js";
import {
  type Backup,
  type ChangeResult,
  type Compaction,
  changeText,
  type HistoryEntry,
  historyText,
  indent,
  type RepairAnswer,
  repairText,
  restoreText,
  type ShowResult,
  showText,
  table,
  verifyText,
} from "./state-text.js";

export async function stateCommand(argv: string[]): Promise<void> {
  const { values, positionals: args, verb } = parseCommand(STATE, argv);
  const client = new StateClient(
    values.endpoint,
    await credentials(values["data-dir"]),
    values.region,
    changeAuthority(values),
  );
  const print = (json: unknown, human: () => string): void => {
    const text = values.json ? JSON.stringify(json, null, 2) : human();
    if (text !== "") console.log(text);
  };
  try {
    switch (verb) {
      case "history": {
        const q = new URLSearchParams();
        const lbs = values.lb ?? [];
        if (lbs.length > 1) throw new UsageError("state history takes one --lb");
        if (lbs[0] !== undefined) q.set("lb", lbs[0]);
        if (values.limit !== undefined) q.set("limit", values.limit);
        if (values.before !== undefined) q.set("before", values.before);
        const r = await client.get<{ revisions: HistoryEntry[]; next?: number }>(`/history?${q}`);
        return print(r, () => historyText(r.revisions, r.next, lbs[0] !== undefined));
      }
      case "show": {
        const r = await client.get<ShowResult>(`/show?${new URLSearchParams({ at: values.at })}`);
        return print(r, () => showText(r));
      }
      case "diff": {
        const [from, to] = args;
        if (from === undefined)
          throw new UsageError("state diff needs A (and optionally B): revisions or times");
        const q = new URLSearchParams({ from, ...(to === undefined ? {} : { to }) });
        const r = await client.get<{ from: number; to: number; lines: string[] }>(`/diff?${q}`);
        return print(r, () =>
          [`diff of revision ${r.from} → ${r.to}:`, ...indent(r.lines, "no differences")].join("\n"),
        );
      }
      case "restore": {
        if (values.to === undefined) throw new UsageError("state restore needs --to REV|TIME");
        const to = /^\d+$/.test(values.to) ? Number(values.to) : values.to;
        const body = {
          to,
          ...(values.lb ? { loadBalancers: values.lb } : {}),
          ...(values["include-credentials"] ? { includeCredentials: true } : {}),
          ...(values["allow-empty"] ? { allowEmpty: true } : {}),
        };
        const r = await client.stream<ChangeResult & { target: number; warnings: string[] }>(
          "restore",
          "POST",
          "/restore",
          JSON.stringify(body),
        );
        return print(r, () => restoreText(r));
      }
      case "verify": {
        const r = await client.stream<VerifyReport>("verify", "GET", "/verify");
        print(r, () => verifyText(r));
        if (!r.ok) process.exitCode = 1;
        return;
      }
      case "export": {
        const { parseExport, writeFileAtomic } = await import("../store/ops/export.js");
        const text = await client.text("export", "GET", "/export");
        const doc = parseExport(text, "the export the server sent");
        if (values.out === undefined) {
          process.stdout.write(text);
          return;
        }
        await writeFileAtomic(values.out, text);
        const summary = { file: values.out, revision: doc.revision, entities: doc.entities.length };
        return print(
          summary,
          () => `exported revision ${doc.revision} (${doc.entities.length} entities) to ${values.out}`,
        );
      }
      case "import": {
        const [file] = args;
        if (file === undefined) throw new UsageError("state import needs FILE");
        const text = await readFile(file, "utf8");
        // Refuse a damaged file here, before sending it; the server checks again.
        (await import("../store/ops/export.js")).parseExport(text, `export ${file}`);
        const flags = new URLSearchParams();
        if (values["keep-credentials"]) flags.set("includeCredentials", "false");
        if (values["accept-unsigned"]) flags.set("acceptUnsigned", "true");
        const q = flags.size > 0 ? `?${flags}` : "";
        const r = await client.stream<ChangeResult & { exportRevision: number }>(
          "import",
          "POST",
          `/import${q}`,
          text,
        );
        return print(r, () =>
          changeText(
            r,
            `imported the export of revision ${r.exportRevision}`,
            `the state already equals the export of revision ${r.exportRevision}; nothing was written`,
          ),
        );
      }
      case "compact": {
        const through = values.through;
        const olderThan = values["older-than"];
        if ((through === undefined) === (olderThan === undefined))
          throw new UsageError("state compact needs one of --through REV and --older-than DAYS");
        if (values.ticket === undefined && !values["break-glass"])
          throw new UsageError(`state compact needs ${CHANGE_FLAGS_NOTE}`);
        const number = (raw: string, flag: string): number => {
          if (!/^\d+(\.\d+)?$/.test(raw)) throw new UsageError(`${flag} must be a number, not '${raw}'`);
          return Number(raw);
        };
        const body = {
          ticket: values.ticket ?? `break-glass: ${values.reason ?? ""}`,
          ...(through === undefined ? {} : { through: number(through, "--through") }),
          ...(olderThan === undefined ? {} : { olderThanDays: number(olderThan, "--older-than") }),
        };
        const r = await client.stream<{ through: number; compacted: boolean; compaction: Compaction }>(
          "compact",
          "POST",
          "/compact",
          JSON.stringify(body),
        );
        return print(r, () =>
          r.compacted
            ? `compacted the journal through revision ${r.through}: ${r.compaction.versionsRemoved} superseded version(s) removed (ticket ${r.compaction.ticket ?? "-"}); history is kept from revision ${r.through}`
            : `the journal is already compacted through revision ${r.compaction.through}; nothing was removed`,
        );
      }
      case "compactions": {
        const r = await client.get<{ compactedThrough: number; compactions: Compaction[] }>("/compactions");
        return print(r, () =>
          r.compactions.length === 0
            ? "the journal was never compacted"
            : table(
                ["THROUGH", "TIME", "PRINCIPAL", "TICKET", "REMOVED", "SOURCE"],
                r.compactions.map((c) => [
                  String(c.through),
                  c.time,
                  c.principal,
                  c.ticket ?? "-",
                  String(c.versionsRemoved),
                  c.sourceIp || "-",
                ]),
              ),
        );
      }
      case "repair": {
        if (values.apply && values.plan)
          throw new UsageError("state repair takes --plan (the default) or --apply");
        if (values.apply && (values.reason ?? "").trim() === "")
          throw new UsageError("state repair --apply needs --reason TEXT (it is recorded in the journal)");
        const body = values.apply ? { apply: true, reason: values.reason } : {};
        const r = await client.send<RepairAnswer>("repair", "POST", "/repair", JSON.stringify(body));
        print(r, () => repairText(r));
        if (r.revision === undefined && !r.plan.journalVerified) process.exitCode = 3;
        return;
      }
      case "backups": {
        if (values.create) {
          const r = await client.send<{ backup: Backup }>("backup", "POST", "/backups");
          return print(r, () => `backup written: ${r.backup.file} (revision ${r.backup.revision})`);
        }
        const r = await client.get<{ backups: Backup[] }>("/backups");
        return print(r, () =>
          r.backups.length === 0
            ? "no backups"
            : table(
                ["REVISION", "TAKEN", "FILE"],
                r.backups.map((b) => [String(b.revision), b.time, b.file]),
              ),
        );
      }
    }
  } catch (e) {
    if (!(e instanceof ApiError) && !isBallastError(e)) throw e;
    console.error(errorLine(`ballast state ${verb}`, e));
    process.exitCode = 1;
    return;
  }
}
