/**
 * Journal epochs. `ballast state repair` (repair-journal.ts) cannot mend a journal whose own rows
 * were altered — they are evidence — so it starts a new one: the old rows move into evidence
 * tables and the repaired state is written as the first revision of a fresh chain, numbered above
 * everything the old journal and the agents ever had, with action JOURNAL_EPOCH_ACTION. A journal
 * whose first revision is such a revision starts there: verification walks from it (its `prevHash`
 * is the anchor, the old journal's newest hash), and no state before it can be read or restored.
 */
import type { Revision, Store } from "../store.js";

export const JOURNAL_EPOCH_ACTION = "StartJournalEpoch";

/** Batches probed for the first revision: an epoch's empty range below it costs one query each. */
const PROBE = 10_000;

/** The first revision of the journal, or undefined when it is empty. */
export async function firstRevision(store: Store): Promise<Revision | undefined> {
  const one = await store.revision(1);
  if (one !== undefined) return one;
  const head = await store.head();
  for (let lo = 0; lo < head; lo += PROBE) {
    const rows = await store.revisions(lo, Math.min(lo + PROBE, head));
    if (rows.length > 0) return rows[0];
  }
  return undefined;
}

/** The revision the current epoch starts at, when the journal was repaired into a new epoch. */
export async function epochStart(store: Store): Promise<Revision | undefined> {
  const first = await firstRevision(store);
  return first !== undefined && first.number > 1 && first.action === JOURNAL_EPOCH_ACTION ? first : undefined;
}
