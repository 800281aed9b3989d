/** A load balancer's back ends: health per zone with the last failure, register, deregister, health check. */
import { useState } from "preact/hooks";
import { elb } from "../api";
import { useAction } from "../hooks";
import type { Session } from "../session";
import type { LoadBalancerDetail } from "../types";
import { ErrorLine, time } from "../ui";

export function Instances(props: {
  readonly session: Session;
  readonly detail: LoadBalancerDetail;
  readonly onChange: () => void;
}) {
  const { session, detail } = props;
  const name = detail.loadBalancer.name;
  const [instanceId, setInstanceId] = useState("");
  const action = useAction();
  const register = (e: Event) => {
    e.preventDefault();
    void action.run(async () => {
      await elb(session, "RegisterInstancesWithLoadBalancer", {
        LoadBalancerName: name,
        "Instances.member.1.InstanceId": instanceId.trim(),
      });
      setInstanceId("");
      props.onChange();
    });
  };
  const deregister = (id: string) =>
    void action.run(async () => {
      await elb(session, "DeregisterInstancesFromLoadBalancer", {
        LoadBalancerName: name,
        "Instances.member.1.InstanceId": id,
      });
      props.onChange();
    });
  const zones = [...new Set(detail.instances.map((i) => i.zone))].sort();
  return (
    <>
      <h2>Instances</h2>
      {detail.instances.length === 0 && <p class="muted">No instances registered.</p>}
      {zones.map((zone) => (
        <div class="scroll" key={zone}>
          <table>
            <caption>{zone}</caption>
            <thead>
              <tr>
                <th scope="col">Instance</th>
                <th scope="col">State</th>
                <th scope="col">Reason</th>
                <th scope="col">Last failure</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {detail.instances
                .filter((i) => i.zone === zone)
                .map((i) => (
                  <tr key={i.instanceId} data-instance={i.instanceId}>
                    <th scope="row" class="mono">
                      {i.instanceId}
                    </th>
                    <td class={`state ${i.state === "InService" ? "in-service" : "out-of-service"}`}>
                      {i.state}
                    </td>
                    <td>
                      {i.reasonCode === "N/A" || i.reasonCode === "" ? "" : `${i.reasonCode}: `}
                      {i.description}
                    </td>
                    <td class="failure">
                      {i.lastFailure === undefined
                        ? "—"
                        : `${i.lastFailure.detail} (${time(i.lastFailure.at)})`}
                    </td>
                    <td>
                      <button type="button" disabled={action.busy} onClick={() => deregister(i.instanceId)}>
                        Deregister {i.instanceId}
                      </button>
                    </td>
                  </tr>
                ))}
            </tbody>
          </table>
        </div>
      ))}
      <form onSubmit={register} aria-labelledby="register-instance" class="panel inline">
        <h3 id="register-instance">Register an instance</h3>
        <label>
          Instance ID or IP address
          <input
            name="instanceId"
            required
            value={instanceId}
            onInput={(e) => setInstanceId(e.currentTarget.value)}
          />
        </label>
        <button type="submit" disabled={action.busy}>
          Register
        </button>
        <ErrorLine error={action.error} />
      </form>
    </>
  );
}

export function ConfigureHealthCheck(props: {
  readonly session: Session;
  readonly detail: LoadBalancerDetail;
  readonly onChange: () => void;
}) {
  const hc = props.detail.loadBalancer.healthCheck;
  const [target, setTarget] = useState(hc.target);
  const [interval, setIntervalSeconds] = useState(String(hc.interval));
  const [timeout, setTimeoutSeconds] = useState(String(hc.timeout));
  const [healthy, setHealthy] = useState(String(hc.healthyThreshold));
  const [unhealthy, setUnhealthy] = useState(String(hc.unhealthyThreshold));
  const action = useAction();
  const submit = (e: Event) => {
    e.preventDefault();
    void action.run(async () => {
      await elb(props.session, "ConfigureHealthCheck", {
        LoadBalancerName: props.detail.loadBalancer.name,
        "HealthCheck.Target": target.trim(),
        "HealthCheck.Interval": interval,
        "HealthCheck.Timeout": timeout,
        "HealthCheck.HealthyThreshold": healthy,
        "HealthCheck.UnhealthyThreshold": unhealthy,
      });
      props.onChange();
    });
  };
  const field = (label: string, name: string, value: string, set: (v: string) => void) => (
    <label>
      {label}
      <input name={name} required value={value} onInput={(e) => set(e.currentTarget.value)} />
    </label>
  );
  return (
    <form onSubmit={submit} aria-labelledby="configure-health-check" class="panel inline">
      <h3 id="configure-health-check">Configure the health check</h3>
      {field("Target", "target", target, setTarget)}
      {field("Interval (s)", "interval", interval, setIntervalSeconds)}
      {field("Timeout (s)", "timeout", timeout, setTimeoutSeconds)}
      {field("Healthy threshold", "healthyThreshold", healthy, setHealthy)}
      {field("Unhealthy threshold", "unhealthyThreshold", unhealthy, setUnhealthy)}
      <button type="submit" disabled={action.busy}>
        Save health check
      </button>
      <ErrorLine error={action.error} />
    </form>
  );
}
