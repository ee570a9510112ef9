/**
 * Retention (NFR16, docs/privacy.md): membership history, campaign sends and audit entries older
 * than RETENTION_DAYS are deleted. This purge is the only deletion of audit entries; no API can
 * change or delete them.
 *
 * Runs in every web process (pm2 runs several) on a timer; a transaction-scoped advisory lock
 * makes one of them do each round and the others skip it. Deletes go in batches (one
 * transaction each), so no long transaction holds PGlite's single connection.
 */
import type { Clock } from "@/lib/ports/clock";
import type { PrivacyStore, PurgeCounts } from "@/lib/ports/privacy";

const DAY_MS = 24 * 3600_000;

export interface RetentionDeps {
  store: Pick<PrivacyStore, "purgeBefore" | "audit">;
  clock: Clock;
  log: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };
}

export interface RetentionOptions {
  retentionDays: number;
  /** Rows per table per batch. */
  batch?: number;
}

/**
 * Deletes everything past retention at the clock's `now`; returns the totals, or null when
 * another process holds the purge. Records a `retention.purged` audit entry when it deleted.
 */
export async function purgeExpired(deps: RetentionDeps, options: RetentionOptions): Promise<PurgeCounts | null> {
  const now = deps.clock.now();
  const cutoff = new Date(now.getTime() - options.retentionDays * DAY_MS);
  const batch = options.batch ?? 5_000;
  const total: PurgeCounts = { history: 0, sends: 0, audit: 0 };
  for (;;) {
    const round = await deps.store.purgeBefore(cutoff, batch);
    if (!round) {
      if (total.history + total.sends + total.audit === 0) return null;
      break; // another process took over mid-way: it finishes the job
    }
    total.history += round.history;
    total.sends += round.sends;
    total.audit += round.audit;
    if (round.history < batch && round.sends < batch && round.audit < batch) break;
  }
  if (total.history + total.sends + total.audit > 0) {
    await deps.store.audit({
      actor: "system:retention",
      action: "retention.purged",
      entityType: "retention",
      entityId: cutoff.toISOString(),
      after: { retentionDays: options.retentionDays, cutoff: cutoff.toISOString(), deleted: total },
      at: now,
    });
    deps.log.info({ cutoff, deleted: total }, "retention purge");
  }
  return total;
}

export interface RetentionJob {
  /** Runs a purge now (also what the timer does); resolves with its result. */
  runNow(): Promise<PurgeCounts | null>;
  close(): Promise<void>;
}

/** Purges after `firstRunMs`, then every `intervalMs` (default: a minute, then hourly). */
export function startRetentionJob(
  deps: RetentionDeps,
  options: RetentionOptions & { intervalMs?: number; firstRunMs?: number },
): RetentionJob {
  const intervalMs = options.intervalMs ?? 3600_000;
  let running: Promise<PurgeCounts | null> | null = null;
  let closed = false;
  let timer: NodeJS.Timeout | null = null;

  const runNow = (): Promise<PurgeCounts | null> => {
    running ??= purgeExpired(deps, options).finally(() => {
      running = null;
    });
    return running;
  };
  const schedule = (delay: number) => {
    if (closed) return;
    timer = setTimeout(() => {
      void runNow()
        .catch((error: unknown) => deps.log.warn({ err: error }, "retention purge failed; next round retries"))
        .finally(() => schedule(intervalMs));
    }, delay);
    timer.unref();
  };
  schedule(options.firstRunMs ?? 60_000);

  return {
    runNow,
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      await running?.catch(() => undefined);
    },
  };
}
