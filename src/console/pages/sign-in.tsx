/**
 * Sign-in: the access key is checked with one signed DescribeLoadBalancers call. The secret stays
 * in this tab (sessionStorage); it signs requests here and is never sent.
 */
import { useState } from "preact/hooks";
import { ApiError, elb } from "../api";
import { useAction } from "../hooks";
import { REGIONS, type Session, saveSession } from "../session";
import { ErrorLine } from "../ui";

export function SignIn(props: { readonly onSignedIn: (s: Session) => void }) {
  const [accessKeyId, setId] = useState("");
  const [secretAccessKey, setSecret] = useState("");
  const [region, setRegion] = useState("us-east-1");
  const action = useAction();
  const submit = (e: Event) => {
    e.preventDefault();
    void action.run(async () => {
      const session = { accessKeyId: accessKeyId.trim(), secretAccessKey, region };
      try {
        await elb(session, "DescribeLoadBalancers", { PageSize: "1" });
      } catch (err) {
        // A key without ELB read access is still a valid key: the pages show what it may see.
        if (!(err instanceof ApiError && err.code === "AccessDenied")) throw err;
      }
      saveSession(session);
      props.onSignedIn(session);
    });
  };
  return (
    <main id="main" class="sign-in">
      <h1>Ballast console</h1>
      <form onSubmit={submit} aria-label="Sign in">
        <label>
          Access key ID
          <input
            name="accessKeyId"
            autocomplete="username"
            required
            value={accessKeyId}
            onInput={(e) => setId(e.currentTarget.value)}
          />
        </label>
        <label>
          Secret access key
          <input
            name="secretAccessKey"
            type="password"
            autocomplete="current-password"
            required
            value={secretAccessKey}
            onInput={(e) => setSecret(e.currentTarget.value)}
          />
        </label>
        <label>
          Region
          <select name="region" value={region} onChange={(e) => setRegion(e.currentTarget.value)}>
            {REGIONS.map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" disabled={action.busy}>
          Sign in
        </button>
        <ErrorLine error={action.error} />
        <p class="muted">The secret key signs each request in this browser tab (SigV4) and is never sent.</p>
      </form>
    </main>
  );
}
