/** The console's shell: sign-in, navigation, and the page for the current route. */
import { render } from "preact";
import { useState } from "preact/hooks";
import { AgentsPage } from "./pages/agents";
import { LoadBalancerPage } from "./pages/load-balancer";
import { LoadBalancersPage } from "./pages/load-balancers";
import { SafetyPage } from "./pages/safety";
import { SignIn } from "./pages/sign-in";
import { StatePage } from "./pages/state";
import { navigate, useRoute } from "./router";
import { clearSession, loadSession, type Session } from "./session";
import { Link } from "./ui";
import "uplot/dist/uPlot.min.css";
import "./styles.css";

const SECTIONS = [
  { route: "/load-balancers", label: "Load balancers" },
  { route: "/agents", label: "Agents" },
  { route: "/state", label: "State" },
  { route: "/safety", label: "Safety" },
] as const;

function App() {
  const [session, setSession] = useState<Session | undefined>(loadSession());
  const route = useRoute();
  if (session === undefined) return <SignIn onSignedIn={setSession} />;
  const signOut = () => {
    clearSession();
    setSession(undefined);
    navigate("/load-balancers");
  };
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">Ballast</span>
        <nav aria-label="Sections">
          <ul>
            {SECTIONS.map((s) => (
              <li key={s.route}>
                <Link to={s.route} current={route.startsWith(s.route)}>
                  {s.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <span class="who">
          <span title="access key id">{session.accessKeyId}</span> ·{" "}
          <span title="region">{session.region}</span>
        </span>
        <button type="button" onClick={signOut}>
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        <Page route={route} session={session} />
      </main>
    </>
  );
}

function Page(props: { readonly route: string; readonly session: Session }) {
  const { route, session } = props;
  const lb = /^\/load-balancers\/([^/]+)$/.exec(route);
  if (lb) return <LoadBalancerPage session={session} name={decodeURIComponent(lb[1] ?? "")} />;
  if (route === "/load-balancers") return <LoadBalancersPage session={session} />;
  if (route === "/agents") return <AgentsPage session={session} />;
  if (route === "/state") return <StatePage session={session} />;
  if (route === "/safety") return <SafetyPage session={session} />;
  return (
    <section>
      <h1>Not found</h1>
      <p>
        No console page at {route}. <Link to="/load-balancers">Load balancers</Link>
      </p>
    </section>
  );
}

const root = document.getElementById("app");
if (root) render(<App />, root);
