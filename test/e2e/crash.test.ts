/**
 * Durability under a crash: a control plane killed with SIGKILL in the middle of concurrent
 * writes, then restarted on the same store, still has every write it acknowledged to a client,
 * and its journal verifies. Run on both drivers.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { after, before, describe, it } from "node:test";
import {
  CreateLoadBalancerCommand,
  DescribeLoadBalancersCommand,
  type LoadBalancerDescription,
  RegisterInstancesWithLoadBalancerCommand,
} from "@aws-sdk/client-elastic-load-balancing";
import { openStore } from "../../src/store/open.js";
import { verifyJournal } from "../../src/store/ops/verify.js";
import { type PostgresServer, startPostgres } from "../support/postgres.js";
import { sdkClient, startBallast, tempDir } from "./support.js";

const WRITERS = 8;
/** The kill comes once this many writes were acknowledged (or after MAX_LOAD_MS), mid-stream. */
const KILL_AFTER_WRITES = 60;
const MAX_LOAD_MS = 15_000;

interface Control {
  readonly proc: ChildProcess;
  readonly apiUrl: string;
}

/** Starts `ballast control`; with apiPort 0 the system picks a free port and the output names it. */
async function startControl(dataDir: string, store: string, apiPort: number): Promise<Control> {
  const { proc, output } = await startBallast(
    [
      "control",
      "--data-dir",
      dataDir,
      "--store",
      store,
      "--api-port",
      String(apiPort),
      "--agent-port",
      "0",
      "--dns-port",
      "0",
    ],
    "control plane: API",
  );
  const port = Number(/control plane: API http:\/\/127\.0\.0\.1:(\d+)/.exec(output())?.[1]);
  return { proc, apiUrl: `http://127.0.0.1:${port}` };
}

async function describeAll(apiUrl: string): Promise<LoadBalancerDescription[]> {
  const elb = sdkClient(apiUrl);
  const all: LoadBalancerDescription[] = [];
  let marker: string | undefined;
  do {
    const page = await elb.send(new DescribeLoadBalancersCommand({ Marker: marker, PageSize: 400 }));
    all.push(...(page.LoadBalancerDescriptions ?? []));
    marker = page.NextMarker;
  } while (marker);
  elb.destroy();
  return all;
}

function crashSuite(driver: string, storeSpec: () => string): void {
  describe(`crash under concurrent writes: ${driver}`, () => {
    it("keeps every acknowledged write after SIGKILL and restart, and the journal verifies", async (t) => {
      const dataDir = tempDir(`crash-${driver}`);
      const control = await startControl(dataDir, storeSpec(), 0);
      const apiPort = Number(new URL(control.apiUrl).port);
      const acked = new Map<string, string[]>();
      let stop = false;
      const deadline = Date.now() + MAX_LOAD_MS * 2;

      const writer = async (w: number): Promise<void> => {
        const elb = sdkClient(control.apiUrl);
        const name = `w${w}`;
        try {
          await elb.send(
            new CreateLoadBalancerCommand({
              LoadBalancerName: name,
              Listeners: [{ Protocol: "HTTP", LoadBalancerPort: 80, InstancePort: 8080 }],
              AvailabilityZones: ["us-east-1a"],
            }),
          );
          acked.set(name, []);
          for (let i = 0; !stop && Date.now() < deadline && i < 10_000; i++) {
            const ip = `10.${w}.${(i >> 8) & 255}.${i & 255}`;
            await elb.send(
              new RegisterInstancesWithLoadBalancerCommand({
                LoadBalancerName: name,
                Instances: [{ InstanceId: ip }],
              }),
            );
            acked.get(name)?.push(ip);
          }
        } catch {
          // The control plane died under this request: it was not acknowledged.
        }
        elb.destroy();
      };

      const writers = Array.from({ length: WRITERS }, (_, w) => writer(w));
      const ackedWrites = (): number => [...acked.values()].reduce((n, ips) => n + 1 + ips.length, 0);
      const loadStarted = Date.now();
      while (ackedWrites() < KILL_AFTER_WRITES && Date.now() - loadStarted < MAX_LOAD_MS) {
        await new Promise((r) => setTimeout(r, 20));
      }
      control.proc.kill("SIGKILL");
      await once(control.proc, "exit");
      stop = true;
      await Promise.all(writers);
      const writes = ackedWrites();
      t.diagnostic(`${writes} writes acknowledged before the SIGKILL`);
      assert.ok(writes >= KILL_AFTER_WRITES, `only ${writes} writes were acknowledged before the crash`);

      const again = await startControl(dataDir, storeSpec(), apiPort);
      try {
        const stored = new Map((await describeAll(again.apiUrl)).map((d) => [d.LoadBalancerName, d]));
        for (const [name, instances] of acked) {
          const d = stored.get(name);
          assert.ok(d, `acknowledged load balancer ${name} was lost`);
          const have = (d.Instances ?? []).map((i) => i.InstanceId);
          for (const ip of instances)
            assert.ok(have.includes(ip), `acknowledged registration ${name}/${ip} was lost`);
        }
        const store = await openStore(storeSpec(), dataDir);
        try {
          const report = await verifyJournal(store);
          assert.equal(report.ok, true, JSON.stringify(report.firstDivergence));
        } finally {
          await store.close();
        }
      } finally {
        again.proc.kill("SIGTERM");
        await once(again.proc, "exit");
      }
    });
  });
}

crashSuite("sqlite", () => "sqlite");

let pgServer: PostgresServer | undefined;
let pgUrl = "";
describe("postgres server for the crash test", () => {
  before(async () => {
    pgServer = await startPostgres();
    pgUrl = pgServer.url;
  });
  after(async () => {
    await pgServer?.stop();
  });
  crashSuite("postgres", () => pgUrl);
});
