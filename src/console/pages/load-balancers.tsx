/** Load balancers: the list with health counts, and creating one through the ELB API. */
import { useState } from "preact/hooks";
import { admin, elb } from "../api";
import { useAction, useLoad } from "../hooks";
import { navigate } from "../router";
import type { Session } from "../session";
import type { LoadBalancerSummary } from "../types";
import { ErrorLine, Link, Loading, time, words } from "../ui";

export function LoadBalancersPage(props: { readonly session: Session }) {
  const { session } = props;
  const list = useLoad(
    () => admin<{ loadBalancers: LoadBalancerSummary[] }>(session, "GET", "/load-balancers"),
    [session],
    5000,
  );
  return (
    <section>
      <h1>Load balancers</h1>
      <ErrorLine error={list.error} />
      {list.data === undefined ? (
        list.error === undefined && <Loading what="load balancers" />
      ) : list.data.loadBalancers.length === 0 ? (
        <p>No load balancers in {session.region} yet.</p>
      ) : (
        <div class="scroll">
          <p>
            {list.data.loadBalancers.length} in {session.region}: {sum(list.data.loadBalancers, "inService")}{" "}
            back ends InService, {sum(list.data.loadBalancers, "outOfService")} OutOfService.
          </p>
          <table>
            <caption class="sr-only">Load balancers in {session.region}</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">DNS name</th>
                <th scope="col">Zones</th>
                <th scope="col">Listeners</th>
                <th scope="col">InService</th>
                <th scope="col">OutOfService</th>
                <th scope="col">Unknown</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {list.data.loadBalancers.map((lb) => (
                <tr key={lb.name} data-lb={lb.name}>
                  <th scope="row">
                    <Link to={`/load-balancers/${encodeURIComponent(lb.name)}`}>{lb.name}</Link>
                  </th>
                  <td class="mono">{lb.dnsName}</td>
                  <td>{lb.zones.join(", ")}</td>
                  <td>{lb.listeners}</td>
                  <td class="in-service">{lb.instances.inService}</td>
                  <td class={lb.instances.outOfService > 0 ? "out-of-service" : ""}>
                    {lb.instances.outOfService}
                  </td>
                  <td>{lb.instances.unknown}</td>
                  <td>{time(lb.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <CreateLoadBalancer session={session} onCreated={list.reload} />
    </section>
  );
}

function sum(lbs: readonly LoadBalancerSummary[], field: "inService" | "outOfService"): number {
  return lbs.reduce((n, lb) => n + lb.instances[field], 0);
}

interface ListenerRow {
  protocol: string;
  port: string;
  instanceProtocol: string;
  instancePort: string;
}

const PROTOCOLS = ["HTTP", "HTTPS", "TCP", "SSL"] as const;

function CreateLoadBalancer(props: { readonly session: Session; readonly onCreated: () => void }) {
  const { session } = props;
  const [name, setName] = useState("");
  const [zones, setZones] = useState(`${session.region}a`);
  const [listeners, setListeners] = useState<ListenerRow[]>([
    { protocol: "HTTP", port: "80", instanceProtocol: "HTTP", instancePort: "80" },
  ]);
  const [created, setCreated] = useState<string | undefined>(undefined);
  const action = useAction();
  const setRow = (i: number, patch: Partial<ListenerRow>) =>
    setListeners(listeners.map((l, j) => (i === j ? { ...l, ...patch } : l)));
  const submit = (e: Event) => {
    e.preventDefault();
    setCreated(undefined);
    void action.run(async () => {
      const params: Record<string, string> = { LoadBalancerName: name.trim() };
      words(zones).forEach((z, i) => {
        params[`AvailabilityZones.member.${i + 1}`] = z;
      });
      listeners.forEach((l, i) => {
        const p = `Listeners.member.${i + 1}`;
        params[`${p}.Protocol`] = l.protocol;
        params[`${p}.LoadBalancerPort`] = l.port;
        params[`${p}.InstanceProtocol`] = l.instanceProtocol;
        params[`${p}.InstancePort`] = l.instancePort;
      });
      const doc = await elb(session, "CreateLoadBalancer", params);
      setCreated(doc.querySelector("DNSName")?.textContent ?? name);
      props.onCreated();
    });
  };
  return (
    <form onSubmit={submit} aria-labelledby="create-lb" class="panel">
      <h2 id="create-lb">Create a load balancer</h2>
      <label>
        Name
        <input
          name="name"
          required
          pattern="[A-Za-z0-9-]{1,32}"
          title="1 to 32 letters, digits and hyphens"
          value={name}
          onInput={(e) => setName(e.currentTarget.value)}
        />
      </label>
      <label>
        Availability zones (comma separated)
        <input name="zones" required value={zones} onInput={(e) => setZones(e.currentTarget.value)} />
      </label>
      <fieldset>
        <legend>Listeners</legend>
        {listeners.map((l, i) => (
          <div class="row" key={i}>
            <label>
              Protocol {i + 1}
              <select value={l.protocol} onChange={(e) => setRow(i, { protocol: e.currentTarget.value })}>
                {PROTOCOLS.map((p) => (
                  <option key={p}>{p}</option>
                ))}
              </select>
            </label>
            <label>
              Load balancer port {i + 1}
              <input
                inputMode="numeric"
                required
                value={l.port}
                onInput={(e) => setRow(i, { port: e.currentTarget.value })}
              />
            </label>
            <label>
              Instance protocol {i + 1}
              <select
                value={l.instanceProtocol}
                onChange={(e) => setRow(i, { instanceProtocol: e.currentTarget.value })}
              >
                {PROTOCOLS.map((p) => (
                  <option key={p}>{p}</option>
                ))}
              </select>
            </label>
            <label>
              Instance port {i + 1}
              <input
                inputMode="numeric"
                required
                value={l.instancePort}
                onInput={(e) => setRow(i, { instancePort: e.currentTarget.value })}
              />
            </label>
            {listeners.length > 1 && (
              <button type="button" onClick={() => setListeners(listeners.filter((_, j) => j !== i))}>
                Remove listener {i + 1}
              </button>
            )}
          </div>
        ))}
        <button
          type="button"
          onClick={() =>
            setListeners([
              ...listeners,
              { protocol: "HTTP", port: "", instanceProtocol: "HTTP", instancePort: "" },
            ])
          }
        >
          Add listener
        </button>
      </fieldset>
      <button type="submit" disabled={action.busy}>
        Create load balancer
      </button>
      <ErrorLine error={action.error} />
      {created !== undefined && (
        <p role="status">
          Created: <span class="mono">{created}</span>{" "}
          <button
            type="button"
            onClick={() => navigate(`/load-balancers/${encodeURIComponent(name.trim())}`)}
          >
            Open {name.trim()}
          </button>
        </p>
      )}
    </form>
  );
}
