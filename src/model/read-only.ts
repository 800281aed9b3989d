/**
 * Read-only mode (principle 6): when the journal itself fails verification, nothing in the store
 * can repair it, and a control plane that keeps accepting changes would write them on top of a
 * history it can no longer prove. The controller's state monitor decides; the API asks through
 * this interface (handed over by the composition root) and refuses every change while it says so.
 * Reads keep answering from the store's current state.
 */

/** Why the service refuses changes, since when, and what to do. */
export interface ReadOnlyIncident {
  /** When a check first found the damage (ISO 8601). */
  readonly since: string;
  /** The alarm kind that put the service in read-only mode. */
  readonly alarm: "journal-damaged";
  /** What failed verification, in words (the monitor's first divergence). */
  readonly detail: string;
}

/** Implemented by the controller's state monitor; undefined while changes are allowed. */
export interface WriteGate {
  readOnly(): ReadOnlyIncident | undefined;
}

/** The message every refused change answers with. */
export function readOnlyMessage(incident: ReadOnlyIncident): string {
  return `Ballast is in read-only mode since ${incident.since}: ${incident.detail}. Reads still answer; changes are refused until an administrator runs 'ballast state repair' (see docs/OPERATIONS.md, journal-damaged).`;
}
