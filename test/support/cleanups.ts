/**
 * The teardown list of a test file: steps pushed onto it run in reverse order once the file's
 * tests are done (node:test's `after`), so what was started last is stopped first.
 */
import { after } from "node:test";

export function cleanupsAfterAll(): (() => Promise<void> | void)[] {
  const cleanups: (() => Promise<void> | void)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });
  return cleanups;
}
