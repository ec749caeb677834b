/**
 * The server's periodic gc (the operator config's `"gc": { "every": "1h", "idle": "7d" }`): runs the
 * orchestrator's gc, one run at a time, `every` after the end of the last, and logs what each run did.
 * Off unless configured.
 *
 * @module
 */

import type { GcReport } from "../gc.ts";
import type { SessionOrchestrator } from "../orchestrator.ts";
import type { PeriodicGcSettings } from "../platform/operator_config.ts";

/** A running periodic gc. */
export interface PeriodicGc {
  /** Stops it: no run starts after this, and a run under way is waited for. */
  stop(): Promise<void>;
}

/** One log line for a run: what it did, or that it found nothing to do. */
export function describeGcRun(report: GcReport): string {
  const acted = report.findings.filter((finding) => finding.action !== "keep");
  if (acted.length === 0) return `periodic gc: nothing to clean up (${report.findings.length} session(s) kept)`;
  const counts = new Map<string, number>();
  for (const finding of acted) counts.set(finding.action, (counts.get(finding.action) ?? 0) + 1);
  return `periodic gc: ${[...counts].map(([action, count]) => `${action} ${count}`).join(", ")} ` +
    `(${acted.map((finding) => `${finding.sessionId} ${finding.action}: ${finding.reason}`).join("; ")})`;
}

/**
 * Starts the periodic gc over `orchestrator`; `log` gets each run's line, `logError` a failed run
 * (the next one still comes).
 */
export function startPeriodicGc(
  orchestrator: SessionOrchestrator,
  settings: PeriodicGcSettings,
  log: (line: string) => void,
  logError: (message: string, cause: unknown) => void,
): PeriodicGc {
  let timer: ReturnType<typeof setTimeout> | null = null;
  let running: Promise<void> | null = null;
  let stopped = false;
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(run, settings.everyMs);
    // A pending run must not keep the process alive on its own.
    (timer as { unref?: () => void }).unref?.();
  };
  const run = () => {
    timer = null;
    running = orchestrator.gc(settings.idleMs === null ? {} : { idleMs: settings.idleMs })
      .then((report) => log(describeGcRun(report)), (error) => logError("the periodic gc failed", error))
      .finally(() => {
        running = null;
        schedule();
      });
  };
  schedule();
  return {
    async stop() {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
      await running;
    },
  };
}
