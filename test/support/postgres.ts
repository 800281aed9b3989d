/**
 * A throwaway PostgreSQL server for tests: a fresh cluster in a temp directory, on 127.0.0.1 and a
 * free port, with `fsync=on`, gone again after `stop()`.
 *
 * It must work from nothing on a fresh machine where the tests run as root (PostgreSQL refuses
 * root, so the server runs as the `postgres` OS user), and it must never outlive the test process:
 * the server gets SIGINT (fast shutdown) when its parent dies, even by SIGKILL (`setpriv
 * --pdeathsig`), and directories left by a crashed run are swept by the next one.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import {
  chownSync,
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";

export interface PostgresServer {
  /** e.g. `postgres://postgres@127.0.0.1:PORT/ballast` */
  readonly url: string;
  /** A URL for another database on the same server (created by `createDatabase`). */
  urlFor(database: string): string;
  createDatabase(name: string): Promise<string>;
  stop(): Promise<void>;
}

const DIR_PREFIX = "ballast-pg-";
const READY_TIMEOUT_MS = 20_000;
const run = promisify(execFile);

export async function startPostgres(): Promise<PostgresServer> {
  const bin = findBinDir();
  sweepStaleDirs();
  const dir = mkdtempSync(join(tmpdir(), DIR_PREFIX));
  writeFileSync(join(dir, "owner.pid"), String(process.pid));
  const user = serverUser();
  if (user) chownSync(dir, user.uid, user.gid);
  const data = join(dir, "data");
  try {
    await run(
      ...asServerUser(user, join(bin, "initdb"), [
        "-D",
        data,
        "-U",
        "postgres",
        "-A",
        "trust",
        "-E",
        "UTF8",
        "--no-locale",
        "--no-sync",
        "--no-instructions",
      ]),
      { cwd: dir, env: { ...process.env, HOME: dir }, timeout: 60_000 },
    );
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed: ${(e as Error).message}`);
  }

  // The free port can be taken between finding and binding it: try again with another.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const server = launch(bin, user, dir, data, port);
    try {
      await waitReady(server.child, port, join(dir, "postgres.log"));
    } catch (e) {
      await server.stop();
      if (attempt < 3 && /could not bind|already in use/i.test(readLog(dir))) continue;
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
    const urlFor = (database: string) => `postgres://postgres@127.0.0.1:${port}/${database}`;
    const createDatabase = async (name: string) => {
      await withClient(urlFor("postgres"), (c) => c.query(`CREATE DATABASE "${name.replaceAll('"', '""')}"`));
      return urlFor(name);
    };
    const url = await createDatabase("ballast");
    return {
      url,
      urlFor,
      createDatabase,
      stop: async () => {
        await server.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
}

interface ServerUser {
  readonly uid: number;
  readonly gid: number;
}

function findBinDir(): string {
  const candidates: string[] = [];
  if (process.env.BALLAST_PG_BINDIR) candidates.push(process.env.BALLAST_PG_BINDIR);
  const base = "/usr/lib/postgresql";
  if (existsSync(base)) {
    const versions = readdirSync(base)
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    for (const v of versions) candidates.push(join(base, v, "bin"));
  }
  const found = candidates.find((d) => existsSync(join(d, "postgres")) && existsSync(join(d, "initdb")));
  if (!found) {
    throw new Error(
      "PostgreSQL server binaries (initdb, postgres) not found in /usr/lib/postgresql/*/bin. " +
        "Install them with `apt-get install postgresql-15`, or point BALLAST_PG_BINDIR at their directory.",
    );
  }
  return found;
}

/** PostgreSQL refuses to run as root: then the server runs as the `postgres` OS user. */
function serverUser(): ServerUser | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const line = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .find((l) => l.startsWith("postgres:"));
  const [, , uid, gid] = line?.split(":") ?? [];
  if (uid === undefined || gid === undefined) {
    throw new Error(
      "running as root and there is no `postgres` OS user to run the test server as; " +
        "`apt-get install postgresql-15` creates it",
    );
  }
  return { uid: Number(uid), gid: Number(gid) };
}

/** The command line that runs `cmd` as the server user, and kills it if this process dies. */
function asServerUser(user: ServerUser | undefined, cmd: string, args: string[]): [string, string[]] {
  const creds = user ? ["--reuid", String(user.uid), "--regid", String(user.gid), "--clear-groups"] : [];
  return ["setpriv", [...creds, "--pdeathsig", "SIGINT", "--", cmd, ...args]];
}

function launch(bin: string, user: ServerUser | undefined, dir: string, data: string, port: number) {
  const log = openSync(join(dir, "postgres.log"), "a");
  if (user) chownSync(join(dir, "postgres.log"), user.uid, user.gid);
  const [cmd, args] = asServerUser(user, join(bin, "postgres"), [
    "-D",
    data,
    "-p",
    String(port),
    "-k",
    dir,
    "-c",
    "listen_addresses=127.0.0.1",
    "-c",
    "fsync=on",
    "-c",
    "synchronous_commit=on",
    "-c",
    "max_connections=200",
  ]);
  const child = spawn(cmd, args, {
    cwd: dir,
    stdio: ["ignore", log, log],
    env: { ...process.env, HOME: dir },
  });
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });
  // Covers a test process that ends without calling stop(), e.g. on an uncaught exception.
  const killOnExit = () => {
    child.kill("SIGINT");
  };
  process.once("exit", killOnExit);
  return {
    child,
    stop: async () => {
      process.removeListener("exit", killOnExit);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGINT");
        const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}

async function waitReady(child: ChildProcess, port: number, logFile: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`postgres exited before accepting connections:\n${tail(logFile)}`);
    }
    try {
      await withClient(`postgres://postgres@127.0.0.1:${port}/postgres`, (c) => c.query("SELECT 1"));
      return;
    } catch (e) {
      if (Date.now() > deadline) {
        throw new Error(
          `postgres not ready after ${READY_TIMEOUT_MS} ms (${(e as Error).message}):\n${tail(logFile)}`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  // A server shutting down under the client must not become an unhandled 'error' event.
  client.on("error", () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Removes the temp directories of earlier runs whose test process and server are both gone. */
function sweepStaleDirs(): void {
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith(DIR_PREFIX)) continue;
    const dir = join(tmpdir(), name);
    const owner = readPid(join(dir, "owner.pid"));
    const postmaster = readPid(join(dir, "data", "postmaster.pid"));
    if (owner === undefined || alive(owner) || (postmaster !== undefined && alive(postmaster))) continue;
    rmSync(dir, { recursive: true, force: true });
  }
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, "utf8").split("\n")[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

function readLog(dir: string): string {
  try {
    return readFileSync(join(dir, "postgres.log"), "utf8");
  } catch {
    return "";
  }
}

function tail(file: string): string {
  try {
    return readFileSync(file, "utf8").split("\n").slice(-20).join("\n");
  } catch {
    return "(no server log)";
  }
}
