/**
 * `ballast up --demo`: three small back ends and a load balancer in front of them, created
 * through the same signed AWS API a user would call.
 */
import { createServer, type Server } from "node:http";
import type { SignedClient } from "./signed-client.js";

export const DEMO_LB = "demo";
const DEMO_BACKENDS = [
  { id: "i-0demo00000000001", address: "127.0.10.1", zone: "us-east-1a" },
  { id: "i-0demo00000000002", address: "127.0.10.2", zone: "us-east-1b" },
  { id: "i-0demo00000000003", address: "127.0.10.3", zone: "us-east-1a" },
];
const DEMO_PORT = 8080;

export interface Demo {
  readonly loadBalancerPort: number;
  close(): Promise<void>;
}

export async function startDemo(client: SignedClient, loadBalancerPort: number): Promise<Demo> {
  const servers: Server[] = [];
  for (const [i, b] of DEMO_BACKENDS.entries()) {
    const server = createServer((req, res) => {
      const body = `Hello from Ballast demo back end ${i + 1} (${b.id}, ${b.zone}); you asked for ${req.url}\n`;
      res.writeHead(200, {
        "content-type": "text/plain; charset=utf-8",
        "content-length": Buffer.byteLength(body),
      });
      res.end(body);
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(DEMO_PORT, b.address, () => resolve());
    });
    servers.push(server);
    const inv = await client.send(
      "PUT",
      `/admin/v1/instances/${b.id}`,
      JSON.stringify({ address: b.address, zone: b.zone }),
      "application/json",
    );
    if (inv.status >= 300) throw new Error(`demo inventory failed: ${inv.status} ${inv.body}`);
  }
  await client.query("CreateLoadBalancer", {
    LoadBalancerName: DEMO_LB,
    "Listeners.member.1.Protocol": "HTTP",
    "Listeners.member.1.LoadBalancerPort": String(loadBalancerPort),
    "Listeners.member.1.InstanceProtocol": "HTTP",
    "Listeners.member.1.InstancePort": String(DEMO_PORT),
    "AvailabilityZones.member.1": "us-east-1a",
    "AvailabilityZones.member.2": "us-east-1b",
  });
  await client.query("ConfigureHealthCheck", {
    LoadBalancerName: DEMO_LB,
    "HealthCheck.Target": `HTTP:${DEMO_PORT}/`,
    "HealthCheck.Interval": "5",
    "HealthCheck.Timeout": "2",
    "HealthCheck.UnhealthyThreshold": "2",
    "HealthCheck.HealthyThreshold": "2",
  });
  const register: Record<string, string> = { LoadBalancerName: DEMO_LB };
  for (const [i, b] of DEMO_BACKENDS.entries()) register[`Instances.member.${i + 1}.InstanceId`] = b.id;
  await client.query("RegisterInstancesWithLoadBalancer", register);
  return {
    loadBalancerPort,
    close: async () => {
      for (const s of servers) {
        s.closeAllConnections();
        await new Promise<void>((resolve) => s.close(() => resolve()));
      }
    },
  };
}
