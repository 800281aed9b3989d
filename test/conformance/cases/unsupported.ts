/**
 * Actions of ELB 2012-06-01 that Ballast does not implement yet: each must answer InvalidAction
 * through every client. Remove an action from here when it gets rows in the table.
 */
export const UNSUPPORTED_ACTIONS: readonly string[] = [];
