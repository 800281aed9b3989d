/** The journal's operations, written against the Store interface only, so every driver has them. */

export type { ApplyResult, Scope } from "./apply.js";
export * from "./backups.js";
export * from "./compact.js";
export * from "./diff.js";
export * from "./diff-text.js";
export * from "./export.js";
export * from "./restore.js";
export * from "./snapshot.js";
export * from "./verify.js";
