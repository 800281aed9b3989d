/** The console's routes live under /console/ (the control plane answers index.html for each). */
import { useEffect, useState } from "preact/hooks";

export const BASE = "/console";

export function currentRoute(): string {
  const p = window.location.pathname;
  const rest = p.startsWith(`${BASE}/`) ? p.slice(BASE.length) : "/";
  return rest === "/" ? "/load-balancers" : rest.replace(/\/$/, "");
}

export function navigate(route: string): void {
  window.history.pushState(null, "", `${BASE}${route}`);
  window.dispatchEvent(new PopStateEvent("popstate"));
}

export function useRoute(): string {
  const [route, setRoute] = useState(currentRoute());
  useEffect(() => {
    const on = () => setRoute(currentRoute());
    window.addEventListener("popstate", on);
    return () => window.removeEventListener("popstate", on);
  }, []);
  return route;
}

/** Same-page navigation for an ordinary link click (a new tab still works: it is a real href). */
export function onLink(e: MouseEvent): void {
  const a = (e.currentTarget as HTMLAnchorElement | null) ?? undefined;
  if (a === undefined || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const href = a.getAttribute("href") ?? "";
  if (!href.startsWith(`${BASE}/`)) return;
  e.preventDefault();
  navigate(href.slice(BASE.length));
}
