/**
 * One load balancer: listeners, policies, attributes, health check, back ends with their health
 * and last failure per zone, the nodes serving it, and live charts of its traffic.
 */
import { admin } from "../api";
import { Chart } from "../charts";
import { useLoad } from "../hooks";
import type { Session } from "../session";
import type { LoadBalancerDetail, Stats } from "../types";
import { ErrorLine, Link, Loading, time } from "../ui";
import { ConfigureHealthCheck, Instances } from "./lb-instances";

export function LoadBalancerPage(props: { readonly session: Session; readonly name: string }) {
  const { session, name } = props;
  const path = `/load-balancers/${encodeURIComponent(name)}`;
  const detail = useLoad(() => admin<LoadBalancerDetail>(session, "GET", path), [session, name], 3000);
  const stats = useLoad(
    () => admin<Stats>(session, "GET", `${path}/stats?seconds=300`),
    [session, name],
    5000,
  );
  const d = detail.data;
  return (
    <section>
      <p>
        <Link to="/load-balancers">← Load balancers</Link>
      </p>
      <h1>{name}</h1>
      <ErrorLine error={detail.error} />
      {d === undefined ? (
        detail.error === undefined && <Loading what={name} />
      ) : (
        <>
          <dl class="facts">
            <dt>DNS name</dt>
            <dd class="mono">{d.loadBalancer.dnsName}</dd>
            <dt>Zones</dt>
            <dd>{d.loadBalancer.zones.join(", ")}</dd>
            <dt>Scheme</dt>
            <dd>{d.loadBalancer.scheme ?? "internet-facing"}</dd>
            <dt>Created</dt>
            <dd>{time(d.loadBalancer.createdAt)}</dd>
            {d.loadBalancer.subnets !== undefined && d.loadBalancer.subnets.length > 0 && (
              <>
                <dt>Subnets</dt>
                <dd>{d.loadBalancer.subnets.join(", ")}</dd>
              </>
            )}
          </dl>
          <Instances session={session} detail={d} onChange={detail.reload} />
          <h2>Traffic</h2>
          <ErrorLine error={stats.error} />
          {stats.data !== undefined && stats.data.points.length === 0 ? (
            <p class="muted">No agent has reported traffic for {name} yet.</p>
          ) : (
            stats.data !== undefined && (
              <div class="charts">
                <Chart
                  title="Requests per second"
                  unit="req/s"
                  points={stats.data.points}
                  series={[{ label: "requests/s", value: (p) => p.requestsPerSecond, stroke: "#1f6feb" }]}
                />
                <Chart
                  title="Latency"
                  unit="seconds"
                  points={stats.data.points}
                  series={[
                    { label: "p50", value: (p) => p.latencyP50Seconds, stroke: "#2da44e" },
                    { label: "p99", value: (p) => p.latencyP99Seconds, stroke: "#bf8700" },
                  ]}
                />
                <Chart
                  title="Errors"
                  unit="per second"
                  points={stats.data.points}
                  series={[
                    { label: "4xx/s", value: (p) => p.http4xxPerSecond, stroke: "#bf8700" },
                    { label: "5xx/s", value: (p) => p.http5xxPerSecond, stroke: "#cf222e" },
                  ]}
                />
                <Chart
                  title="Surge queue"
                  unit="requests"
                  points={stats.data.points}
                  series={[
                    { label: "surge queue", value: (p) => p.surgeQueueLength, stroke: "#8250df" },
                    { label: "connections", value: (p) => p.activeConnections, stroke: "#57606a" },
                  ]}
                />
              </div>
            )
          )}
          <h2>Listeners</h2>
          <div class="scroll">
            <table>
              <thead>
                <tr>
                  <th scope="col">Protocol</th>
                  <th scope="col">Port</th>
                  <th scope="col">Instance protocol</th>
                  <th scope="col">Instance port</th>
                  <th scope="col">Certificate</th>
                  <th scope="col">Policies</th>
                </tr>
              </thead>
              <tbody>
                {d.loadBalancer.listeners.map((l) => (
                  <tr key={l.port}>
                    <td>{l.protocol}</td>
                    <td>{l.port}</td>
                    <td>{l.instanceProtocol}</td>
                    <td>{l.instancePort}</td>
                    <td class="mono">{l.sslCertificateId ?? "—"}</td>
                    <td>{l.policies.join(", ") || "—"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <h2>Health check</h2>
          <p class="mono">
            {d.loadBalancer.healthCheck.target} every {d.loadBalancer.healthCheck.interval} s, timeout{" "}
            {d.loadBalancer.healthCheck.timeout} s, healthy after{" "}
            {d.loadBalancer.healthCheck.healthyThreshold}, unhealthy after{" "}
            {d.loadBalancer.healthCheck.unhealthyThreshold}
          </p>
          <ConfigureHealthCheck session={session} detail={d} onChange={detail.reload} />
          <h2>Nodes</h2>
          <div class="scroll">
            <table>
              <thead>
                <tr>
                  <th scope="col">Zone</th>
                  <th scope="col">Agent</th>
                  <th scope="col">Address</th>
                  <th scope="col">Listeners</th>
                  <th scope="col">Reporting</th>
                </tr>
              </thead>
              <tbody>
                {d.nodes.map((n) => (
                  <tr key={`${n.agentId}/${n.address}`}>
                    <td>{n.zone}</td>
                    <td class="mono">{n.agentId}</td>
                    <td class="mono">{n.address}</td>
                    <td>
                      {n.listeners
                        .map((l) => `${l.protocol}:${l.port}${l.bound ? "" : " (not bound)"}`)
                        .join(", ")}
                    </td>
                    <td>{n.stale ? "stale" : "connected"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <h2>Policies</h2>
          {d.loadBalancer.policies.length === 0 ? (
            <p class="muted">No policies.</p>
          ) : (
            <ul>
              {d.loadBalancer.policies.map((p) => (
                <li key={p.name}>
                  <strong>{p.name}</strong> ({p.type}){" "}
                  <span class="mono">{JSON.stringify(p.attributes)}</span>
                </li>
              ))}
            </ul>
          )}
          <h2>Attributes</h2>
          <pre class="mono">{JSON.stringify(d.loadBalancer.attributes, null, 2)}</pre>
        </>
      )}
    </section>
  );
}
