import { AppError } from "@/lib/errors";
import type { EventLog } from "@/lib/ports/event-log";
import type { MembershipStore } from "@/lib/ports/memberships";
import { TOPICS } from "@/lib/topics";

/**
 * Readiness: every dependency a request may need answers a light probe within the timeout.
 * Probes run in parallel; a failure's detail goes to the log, never to the (public) answer,
 * since adapter errors name hosts and ports.
 */
export type DependencyStatus = { status: "up"; latencyMs: number } | { status: "down"; latencyMs: number; reason: string };

export interface Readiness {
  status: "ready";
  checks: Record<string, DependencyStatus>;
}

export type Probes = Record<string, () => Promise<unknown>>;

export interface ReadinessOptions {
  timeoutMs?: number;
  onError?: (dependency: string, error: unknown) => void;
}

async function probe(run: () => Promise<unknown>, timeoutMs: number, onError: () => (e: unknown) => void): Promise<DependencyStatus> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMs);
  });
  try {
    const outcome = await Promise.race([run().then(() => "ok" as const), timeout]);
    const latencyMs = Math.round(performance.now() - started);
    if (outcome === "timeout") return { status: "down", latencyMs, reason: `no answer within ${timeoutMs} ms` };
    return { status: "up", latencyMs };
  } catch (error) {
    onError()(error);
    return { status: "down", latencyMs: Math.round(performance.now() - started), reason: "the probe failed" };
  } finally {
    clearTimeout(timer);
  }
}

/** Runs the probes; resolves when all are up, else throws SERVICE_UNAVAILABLE (503) naming the first down. */
export async function checkReadiness(probes: Probes, options: ReadinessOptions = {}): Promise<Readiness> {
  const timeoutMs = options.timeoutMs ?? 2_000;
  const names = Object.keys(probes);
  const results = await Promise.all(
    names.map((name) => probe(probes[name]!, timeoutMs, () => (e) => options.onError?.(name, e))),
  );
  const checks = Object.fromEntries(names.map((name, i) => [name, results[i]!]));
  const down = names.filter((name) => checks[name]!.status === "down");
  if (down.length > 0) {
    const first = checks[down[0]!] as Extract<DependencyStatus, { status: "down" }>;
    throw new AppError(
      "SERVICE_UNAVAILABLE",
      `Not ready: ${down.join(", ")} unavailable`,
      { field: down[0], reason: first.reason, checks },
      { "retry-after": "5", "cache-control": "no-store" },
    );
  }
  return { status: "ready", checks };
}

/**
 * Coalesces probes: callers within `ttlMs` of the last completed check share its outcome, and
 * concurrent callers share one run — a public endpoint must not multiply load on the database.
 */
export function cachedReadiness(run: () => Promise<Readiness>, ttlMs = 1_000): () => Promise<Readiness> {
  let last: { at: number; outcome: Promise<Readiness> } | null = null;
  return () => {
    const now = Date.now();
    if (last && now - last.at < ttlMs) return last.outcome;
    const outcome = run();
    last = { at: now, outcome };
    // Time the cache from completion, so a slow probe is not rerun at once.
    void outcome.then(
      () => last && (last.at = Date.now()),
      () => last && (last.at = Date.now()),
    );
    return outcome;
  };
}

export interface ReadinessDeps {
  db: { exec(sqlText: string): Promise<void> };
  eventLog: Pick<EventLog, "ensureTopics">;
  memberships: Pick<MembershipStore, "segmentsOf">;
  /** Partitions of user-events, should the probe have to create it (as the runtime does). */
  partitions: number;
  onError?: (dependency: string, error: unknown) => void;
}

// Next bundles route handlers separately: the cache is shared through globalThis, per owner.
const KEY = Symbol.for("audience-manager.readiness");
const g = globalThis as unknown as { [KEY]?: WeakMap<object, () => Promise<Readiness>> };

/**
 * The readiness check of `owner` (the runtime): PostgreSQL / PGlite answers a query; the event
 * log answers (Kafka: topic metadata; local log: open, the topic there); the membership store
 * serves a read (PostgreSQL, or Aerospike when configured). Cached for a second.
 */
export function readinessOf(owner: object, deps: ReadinessDeps): () => Promise<Readiness> {
  const all = (g[KEY] ??= new WeakMap());
  let check = all.get(owner);
  if (!check) {
    check = cachedReadiness(() =>
      checkReadiness(
        {
          database: () => deps.db.exec("select 1"),
          eventLog: () => deps.eventLog.ensureTopics([{ name: TOPICS.userEvents, partitions: deps.partitions }]),
          memberships: () => deps.memberships.segmentsOf("readiness-probe"),
        },
        { onError: deps.onError },
      ),
    );
    all.set(owner, check);
  }
  return check;
}
