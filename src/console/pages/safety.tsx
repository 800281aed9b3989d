/** Safety: alarms and guard holds, change tickets, and the audit log. */
import type { Session } from "../session";
import { Audit } from "./audit";
import { Holds } from "./holds";
import { Tickets } from "./tickets";

export function SafetyPage(props: { readonly session: Session }) {
  return (
    <section>
      <h1>Safety</h1>
      <Holds session={props.session} />
      <Tickets session={props.session} />
      <Audit session={props.session} />
    </section>
  );
}
