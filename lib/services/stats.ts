import type { MembershipStore } from "@/lib/ports/memberships";
import type { StatsStore } from "@/lib/ports/stats";
import type { ProcessorStatus } from "@/lib/services/segment-processor";

export interface StatsDeps {
  stats: StatsStore;
  memberships: Pick<MembershipStore, "countMembers">;
  /** The segment processor of this process (embedded mode), for figures only it knows. */
  processor: { status(): ProcessorStatus } | null;
  /** The processors' consumer group, whose checkpoints are read. */
  processorGroup: string;
  /** Events appended to user-events that the in-process processor has not handled yet (null: unknown). */
  backlog?: (() => Promise<number | null>) | null;
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
/** Rolling windows of the headline figures and the span of the per-minute series. */
export const OVERVIEW_WINDOWS = { eventsSeconds: 60, lagSeconds: 60, transitionsMinutes: 5, growthMinutes: 60, seriesMinutes: 30 } as const;
/** Lag percentiles are computed over at most this many of the newest evaluated events. */
const LAG_SAMPLE = 10_000;
/** The overview is computed at most this often per process (dashboards poll it). */
const CACHE_MS = 3_000;
const COUNT_CONCURRENCY = 8;
const TOP = 5;

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Zero-filled minutes from `from` (inclusive, minute-aligned) to `to` (inclusive). */
function minutes(from: number, to: number): number[] {
  const out: number[] = [];
  for (let t = Math.floor(from / MINUTE) * MINUTE; t <= to; t += MINUTE) out.push(t);
  return out;
}

async function computeOverview(deps: StatsDeps, now: Date) {
  const t = now.getTime();
  const W = OVERVIEW_WINDOWS;
  const seriesSince = new Date(Math.floor((t - W.seriesMinutes * MINUTE) / MINUTE) * MINUTE);
  const { live, allIds } = await deps.stats.segments();
  const active = live.filter((s) => s.active);
  const [ingestion, lag, transitionSeries, recentFlow, hourFlow, sends, checkpoint, outbox, sizes] = await Promise.all([
    deps.stats.ingestion(seriesSince, new Date(t - W.eventsSeconds * SECOND)),
    deps.stats.evaluationLag(new Date(t - W.lagSeconds * SECOND), LAG_SAMPLE),
    deps.stats.transitionsPerMinute(allIds, seriesSince),
    deps.stats.flowBySegment(allIds, new Date(t - W.transitionsMinutes * MINUTE)),
    deps.stats.flowBySegment(active.map((s) => s.id), new Date(t - W.growthMinutes * MINUTE)),
    deps.stats.sendsByStatus(),
    deps.stats.checkpoints(deps.processorGroup),
    deps.stats.outbox(),
    mapLimit(active, COUNT_CONCURRENCY, (s) => deps.memberships.countMembers(s.id)),
  ]);

  const eventsByMinute = new Map(ingestion.perMinute.map((m) => [m.minute.getTime(), m.count]));
  const transitionsByMinute = new Map(transitionSeries.map((m) => [m.minute.getTime(), m]));
  const axis = minutes(seriesSince.getTime(), t);

  const members = new Map(active.map((s, i) => [s.id, sizes[i] ?? 0]));
  const flow = new Map(hourFlow.map((f) => [f.segmentId, f]));
  const largest = active
    .map((s) => ({ id: s.id, name: s.name, type: s.type, members: members.get(s.id) ?? 0 }))
    .filter((s) => s.members > 0)
    .sort((a, b) => b.members - a.members || a.name.localeCompare(b.name))
    .slice(0, TOP);
  const fastestGrowing = active
    .map((s) => {
      const f = flow.get(s.id) ?? { entries: 0, exits: 0 };
      const size = members.get(s.id) ?? 0;
      const net = f.entries - f.exits;
      const before = size - net;
      return { id: s.id, name: s.name, type: s.type, members: size, entries: f.entries, exits: f.exits, net, growthPercent: before > 0 ? (100 * net) / before : null };
    })
    .filter((s) => s.net > 0)
    .sort((a, b) => b.net - a.net || a.name.localeCompare(b.name))
    .slice(0, TOP);

  const recentTransitions = recentFlow.reduce((a, f) => a + f.entries + f.exits, 0);
  const status = deps.processor?.status() ?? null;
  const backlog = deps.backlog ? await deps.backlog() : null;
  return {
    at: now,
    windows: W,
    ingestion: {
      eventsPerSecond: ingestion.recent / W.eventsSeconds,
      eventsInWindow: ingestion.recent,
      lastEvaluatedAt: ingestion.lastArchivedAt,
      perMinute: axis.map((m) => ({ minute: new Date(m), events: eventsByMinute.get(m) ?? 0 })),
    },
    evaluationLag: lag,
    transitions: {
      perMinute: recentTransitions / W.transitionsMinutes,
      inWindow: recentTransitions,
      series: axis.map((m) => ({ minute: new Date(m), entries: transitionsByMinute.get(m)?.entries ?? 0, exits: transitionsByMinute.get(m)?.exits ?? 0 })),
    },
    sends: { byStatus: sends, total: Object.values(sends).reduce((a, b) => a + b, 0) },
    segments: { live: live.length, active: active.length, largest, fastestGrowing },
    processor: {
      group: deps.processorGroup,
      checkpoint,
      inProcess: status
        ? {
            partitions: status.partitions.length,
            users: status.users,
            usersToEvaluate: status.staleUsers,
            deadLetters: Object.values(status.deadLetters ?? {}).reduce((a, b) => a + b, 0),
            backlog,
          }
        : null,
    },
    outbox,
  };
}

export type StatsOverview = Awaited<ReturnType<typeof computeOverview>>;

// One short cache per deps object (lib/runtime.ts makes one per runtime).
const caches = new WeakMap<StatsDeps, { at: number; value: Promise<StatsOverview> }>();

// GET /api/v1/stats/overview: the dashboard's figures, each from the table the pipeline writes
// (see StatsStore). Computed at most every few seconds per process, whoever asks.
export async function statsOverview(deps: StatsDeps, now: Date): Promise<StatsOverview> {
  const hit = caches.get(deps);
  if (hit && now.getTime() - hit.at < CACHE_MS && now.getTime() >= hit.at) return hit.value;
  const value = computeOverview(deps, now);
  caches.set(deps, { at: now.getTime(), value });
  value.catch(() => {
    if (caches.get(deps)?.value === value) caches.delete(deps);
  });
  return value;
}

// GET /api/v1/users: who has been active lately (events evaluated in the last `minutes`), for
// the user lookup page; read from the event archive.
export async function activeUsers(deps: Pick<StatsDeps, "stats">, query: { minutes: number; limit: number }, now: Date) {
  const since = new Date(now.getTime() - query.minutes * MINUTE);
  return { since, data: await deps.stats.activeUsers(since, query.limit) };
}
