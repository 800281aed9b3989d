/**
 * The three real clients behind one interface: `call(action, params)` with params in the neutral
 * form (the SDK v3 input shape, which is also botocore's input shape for this service), answered
 * as an Outcome. A client that refuses the call before sending it answers "client-validation".
 */
import { type ChildProcessWithoutNullStreams, execFile, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import * as elb from "@aws-sdk/client-elastic-load-balancing";
import { type Json, toJson } from "./json.js";
import { serviceModel } from "./model.js";
import { ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY } from "./server.js";

export type Outcome =
  | { readonly kind: "ok"; readonly output: Json }
  | {
      readonly kind: "error";
      readonly code: string;
      /** The HTTP status; undefined only when a client gives no way to see it. */
      readonly status: number | undefined;
      readonly message: string;
    }
  | { readonly kind: "client-validation"; readonly message: string };

export type ClientName = "sdk" | "cli" | "boto3";

export interface ConformanceClient {
  readonly name: ClientName;
  call(action: string, params: Json): Promise<Outcome>;
  close(): Promise<void>;
}

export interface Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

const DEFAULT_CREDENTIALS: Credentials = { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET_ACCESS_KEY };

// ---------------------------------------------------------------- SDK v3

type Exports = typeof elb;
type ActionOf<K> = K extends `${infer A}Command` ? (A extends "$" ? never : A) : never;
/** Every action the SDK package has a `<Action>Command` export for. */
export type SdkAction = ActionOf<keyof Exports>;
type Sendable = Parameters<elb.ElasticLoadBalancingClient["send"]>[0];
type CommandConstructor = new (input: Json) => Sendable;

const EXPORTS: Readonly<Record<string, unknown>> = elb;

/** The `<Action>Command` class of the package, looked up by the action's wire name. */
export function sdkCommand(action: string): CommandConstructor | undefined {
  const ctor = EXPORTS[`${action}Command`];
  return typeof ctor === "function" ? (ctor as CommandConstructor) : undefined;
}

/** `region`: the region every call is signed for, and so acts in (default REGION). */
export function sdkClient(
  url: string,
  credentials: Credentials = DEFAULT_CREDENTIALS,
  region = REGION,
): ConformanceClient {
  const client = new elb.ElasticLoadBalancingClient({
    endpoint: url,
    region,
    credentials,
    maxAttempts: 1,
  });
  return {
    name: "sdk",
    async call(action, params) {
      const Command = sdkCommand(action);
      if (!Command) throw new Error(`@aws-sdk/client-elastic-load-balancing has no ${action}Command`);
      try {
        return { kind: "ok", output: toJson(await client.send(new Command(params))) };
      } catch (e) {
        const err = e as {
          name?: string;
          Code?: string;
          message?: string;
          $metadata?: { httpStatusCode?: number };
        };
        const status = err.$metadata?.httpStatusCode;
        if (status === undefined) throw e;
        return { kind: "error", code: err.Code ?? err.name ?? "", status, message: err.message ?? "" };
      }
    },
    async close() {
      client.destroy();
    },
  };
}

// ---------------------------------------------------------------- aws CLI

const run = promisify(execFile);

/** `An error occurred (Code) when calling the X operation: message` */
const CLI_ERROR = /An error occurred \(([^)]+)\) when calling the \w+ operation(?: \([^)]*\))?: (.*)/;
/** urllib3's debug line for the response: `"POST / HTTP/1.1" 400 311`. */
const CLI_STATUS = /"POST \/ HTTP\/1\.1" (\d{3})/;
const CLI_CLIENT_SIDE =
  /Parameter validation failed|the following arguments are required|Invalid type for parameter/;

export function cliAction(action: string): string {
  const snake = serviceModel().snake[action];
  if (!snake) throw new Error(`${action} is not an ELB operation`);
  return snake.replaceAll("_", "-");
}

export function cliClient(
  url: string,
  credentials: Credentials = DEFAULT_CREDENTIALS,
  region = REGION,
): ConformanceClient {
  const env = {
    PATH: process.env.PATH ?? "",
    HOME: process.env.HOME ?? "/tmp",
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    AWS_CONFIG_FILE: "/dev/null",
    AWS_SHARED_CREDENTIALS_FILE: "/dev/null",
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_MAX_ATTEMPTS: "1",
    AWS_PAGER: "",
  };
  return {
    name: "cli",
    async call(action, params) {
      const args = [
        "elb",
        cliAction(action),
        "--cli-input-json",
        JSON.stringify(params),
        "--endpoint-url",
        url,
        "--region",
        region,
        "--output",
        "json",
        // The CLI would otherwise follow NextMarker itself; the table tests pages explicitly.
        "--no-paginate",
        "--debug",
      ];
      let stdout: string;
      let stderr: string;
      try {
        ({ stdout, stderr } = await run("aws", args, { env, timeout: 60_000, maxBuffer: 64 * 1024 * 1024 }));
      } catch (e) {
        const err = e as { stdout?: string; stderr?: string; code?: number };
        const out = err.stderr ?? "";
        const status = CLI_STATUS.exec(out)?.[1];
        const m = CLI_ERROR.exec(out);
        if (m)
          return {
            kind: "error",
            code: m[1] ?? "",
            status: status === undefined ? undefined : Number(status),
            message: m[2] ?? "",
          };
        const lines = out.split("\n").filter((l) => l.trim() !== "" && !/ - (DEBUG|INFO) - /.test(l));
        const tail = lines.slice(-5).join("\n");
        if (CLI_CLIENT_SIDE.test(out) && status === undefined)
          return { kind: "client-validation", message: tail };
        throw new Error(
          `aws elb ${cliAction(action)} failed (exit ${err.code}) without an AWS error:\n${tail}`,
        );
      }
      void stderr;
      return { kind: "ok", output: stdout.trim() === "" ? {} : toJson(JSON.parse(stdout)) };
    },
    async close() {},
  };
}

// ---------------------------------------------------------------- boto3

/** One python3 process for a whole test file: JSON lines in, JSON lines out. */
const BOTO3_RPC = `
import sys, json, datetime, boto3
from botocore.config import Config
from botocore.exceptions import ClientError, ParamValidationError
client = boto3.client("elb", endpoint_url=sys.argv[1], region_name=sys.argv[2],
    aws_access_key_id=sys.argv[3], aws_secret_access_key=sys.argv[4],
    config=Config(retries={"max_attempts": 1, "mode": "standard"}))
def default(o):
    if isinstance(o, (datetime.datetime, datetime.date)):
        return o.isoformat()
    return str(o)
print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    req = json.loads(line)
    try:
        out = getattr(client, req["method"])(**req["params"])
        out.pop("ResponseMetadata", None)
        res = {"ok": out}
    except ClientError as e:
        err = e.response.get("Error", {})
        res = {"error": err.get("Code", ""), "message": err.get("Message", ""),
               "status": e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")}
    except ParamValidationError as e:
        res = {"clientError": "ParamValidationError", "message": str(e)}
    except Exception as e:
        res = {"crash": type(e).__name__, "message": str(e)}
    print(json.dumps(res, default=default), flush=True)
`;

interface Boto3Reply {
  readonly ok?: Json;
  readonly error?: string;
  readonly status?: number | null;
  readonly message?: string;
  readonly clientError?: string;
  readonly crash?: string;
  readonly ready?: boolean;
}

export async function boto3Client(
  url: string,
  credentials: Credentials = DEFAULT_CREDENTIALS,
  region = REGION,
): Promise<ConformanceClient> {
  const proc: ChildProcessWithoutNullStreams = spawn(
    "python3",
    ["-u", "-c", BOTO3_RPC, url, region, credentials.accessKeyId, credentials.secretAccessKey],
    {
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "/tmp",
        AWS_CONFIG_FILE: "/dev/null",
        AWS_SHARED_CREDENTIALS_FILE: "/dev/null",
        AWS_EC2_METADATA_DISABLED: "true",
      },
    },
  );
  let stderr = "";
  proc.stderr.on("data", (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const lines = createInterface({ input: proc.stdout })[Symbol.asyncIterator]();
  const next = async (): Promise<Boto3Reply> => {
    const { value, done } = await lines.next();
    if (done) throw new Error(`the boto3 RPC process exited:\n${stderr}`);
    return JSON.parse(value) as Boto3Reply;
  };
  const ready = await next();
  if (!ready.ready) throw new Error(`the boto3 RPC process did not start:\n${stderr}`);
  // One request at a time: the loop answers in order.
  let queue: Promise<unknown> = Promise.resolve();
  return {
    name: "boto3",
    call(action, params) {
      const method = serviceModel().snake[action];
      if (!method) throw new Error(`${action} is not an ELB operation`);
      const result = queue.then(async (): Promise<Outcome> => {
        proc.stdin.write(`${JSON.stringify({ method, params })}\n`);
        const r = await next();
        if (r.error !== undefined)
          return { kind: "error", code: r.error, status: r.status ?? undefined, message: r.message ?? "" };
        if (r.clientError !== undefined) return { kind: "client-validation", message: r.message ?? "" };
        if (r.crash !== undefined) throw new Error(`boto3 raised ${r.crash}: ${r.message ?? ""}`);
        return { kind: "ok", output: r.ok ?? {} };
      });
      queue = result.catch(() => undefined);
      return result;
    },
    async close() {
      proc.stdin.end();
      if (proc.exitCode === null) await new Promise((r) => proc.once("exit", r));
    },
  };
}
