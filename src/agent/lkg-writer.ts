/**
 * How the agent keeps its last-known-good files as it accepts documents (last-known-good.ts has
 * the formats): a full document becomes a new snapshot; a delta becomes one record appended to the
 * log of the snapshot on disk; once the log is larger than the snapshot (and than 1 MiB), it is
 * folded into a new snapshot, after the change it carried already serves.
 */
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { NODE_SPEC_FORMAT, type NodeSpec } from "../model/node-spec.js";
import type { SecretKey } from "../util/secret-key.js";
import {
  agentSecretKey,
  appendLastKnownGood,
  type LastKnownGoodChange,
  LKG_FILE,
  writeSnapshot,
} from "./last-known-good.js";

const MIN_LOG_BYTES_BEFORE_SNAPSHOT = 1 << 20;

/** Everything the agent runs, for a snapshot. */
export interface RunningSet {
  readonly revision: number;
  readonly loadBalancers: ReadonlyMap<string, NodeSpec>;
  readonly addresses: Readonly<Record<string, string>>;
}

export class LastKnownGoodWriter {
  readonly #dir: string;
  readonly #zone: string;
  #key: SecretKey | undefined;
  /** The snapshot on disk: its generation (undefined: none, or one written before logs) and size. */
  #generation: string | undefined;
  #snapshotBytes = 0;
  #logBytes = 0;

  constructor(dir: string, zone: string) {
    this.#dir = dir;
    this.#zone = zone;
  }

  /** Continues the files read at start (the snapshot's generation, its size). */
  async resume(generation: string | undefined): Promise<void> {
    this.#generation = generation;
    this.#snapshotBytes = (await stat(join(this.#dir, LKG_FILE))).size;
    this.#logBytes = 0;
  }

  /** Writes the whole running set as a new snapshot (a full document, or a log folded in). */
  async snapshot(running: RunningSet): Promise<void> {
    const files = await writeSnapshot(
      this.#dir,
      {
        format: NODE_SPEC_FORMAT,
        revision: running.revision,
        zone: this.#zone,
        loadBalancers: [...running.loadBalancers.values()],
        addresses: running.addresses,
        savedAt: new Date().toISOString(),
      },
      this.#secretKey(),
    );
    this.#generation = files.generation;
    this.#snapshotBytes = files.snapshotBytes;
    this.#logBytes = files.logBytes;
  }

  /** Records one delta; `running` is the whole set after it, snapshotted when there is no log to append to. */
  async change(change: LastKnownGoodChange, running: () => RunningSet): Promise<void> {
    if (this.#generation === undefined) return this.snapshot(running());
    this.#logBytes = await appendLastKnownGood(this.#dir, this.#generation, change, this.#secretKey());
  }

  /** Folds the log into a new snapshot when it has grown larger than the snapshot. */
  async compactIfLarge(running: () => RunningSet): Promise<void> {
    if (this.#logBytes > Math.max(this.#snapshotBytes, MIN_LOG_BYTES_BEFORE_SNAPSHOT))
      await this.snapshot(running());
  }

  #secretKey(): SecretKey {
    this.#key ??= agentSecretKey(this.#dir);
    return this.#key;
  }
}
