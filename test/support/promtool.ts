/** Runs `promtool check metrics` (Debian's prometheus package) on an exposition. */
import { spawn } from "node:child_process";

export interface PromtoolResult {
  readonly code: number | null;
  /** What promtool printed: empty when it found nothing. */
  readonly output: string;
}

export function promtoolCheckMetrics(text: string): Promise<PromtoolResult> {
  return new Promise((resolve, reject) => {
    const p = spawn("promtool", ["check", "metrics"], { stdio: ["pipe", "pipe", "pipe"] });
    let output = "";
    p.stdout.on("data", (d: Buffer) => {
      output += d.toString();
    });
    p.stderr.on("data", (d: Buffer) => {
      output += d.toString();
    });
    p.on("error", reject);
    p.on("close", (code) => resolve({ code, output }));
    p.stdin.end(text);
  });
}
