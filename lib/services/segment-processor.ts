/**
 * The segment processor: consumes `user-events` (a consumer group: partitions spread over
 * processes) and `segment-updates` (every process sees every change), evaluates with one
 * PartitionEngine per input partition, and writes each transition to the membership store,
 * the history and `segment-memberships`.
 *
 * Recovery: a partition's engine state is checkpointed together with the last offset it covers,
 * and offsets are committed only through checkpoints. A process killed at any instant restarts
 * from the checkpoint and replays the rest; the engine is deterministic (evaluation instants
 * come from message timestamps and due times), so the replay re-derives the same transitions
 * with the same instants, and every write downstream is idempotent.
 */
import { promisify } from "node:util";
import { gunzip, gzip } from "node:zlib";
import { Definitions, PartitionEngine, causeOfState, type PartitionSnapshot, type Transition } from "@/lib/evaluation/engine";
import { compileRuleSet, type EngineDefinition } from "@/lib/evaluation/ruleset";
import { ingestedEventSchema, userKnownMessageSchema } from "@/lib/events/schema";
import type { CheckpointStore } from "@/lib/ports/checkpoints";
import type { Clock } from "@/lib/ports/clock";
import type { ConsumedBatch, EventLog, PartitionRef, Subscription } from "@/lib/ports/event-log";
import type { MembershipChange, MembershipHistory, MembershipStore } from "@/lib/ports/memberships";
import type { SegmentStore } from "@/lib/ports/segments";
import type { UserEventArchive } from "@/lib/ports/user-events";
import type { EvaluationProgressStore } from "@/lib/ports/evaluation-progress";
import type { IngestedEvent } from "@/lib/events/schema";
import { segmentUpdateMessageSchema, type SegmentUpdateMessage } from "@/lib/segments/model";
import { TOPICS } from "@/lib/topics";

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

export interface ProcessorLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface SegmentProcessorDeps {
  eventLog: EventLog;
  segments: Pick<SegmentStore, "evaluationDefinitions">;
  memberships: MembershipStore;
  history: MembershipHistory;
  checkpoints: CheckpointStore;
  /** Where the applied events are kept for lookups and explain (optional). */
  archive?: UserEventArchive;
  /** Where backfill progress is reported for the segment stats (optional). */
  progress?: EvaluationProgressStore;
  clock: Clock;
  log: ProcessorLogger;
}

export interface SegmentProcessorOptions {
  /** Consumer group of `user-events`. */
  groupId?: string;
  /** Unique per process: its `segment-updates` subscription is a group of its own. */
  instanceId: string;
  /** Checkpoint a partition at most this often (and on shutdown). */
  checkpointIntervalMs?: number;
  /** Users brought up to date per backfill step after a definition change. */
  refreshChunk?: number;
  /**
   * Where a group with no committed offsets starts in `user-events`. Default: the beginning, so
   * a new deployment rebuilds the window state from everything the topic retains.
   */
  fromBeginning?: boolean;
}

/** A membership transition as published on `segment-memberships` (key: userId). */
export interface MembershipMessage extends MembershipChange {
  /** Deterministic id: the same transition replayed carries the same id. */
  id: string;
}

export const transitionId = (t: MembershipChange) => `${t.userId}|${t.segmentId}|${t.kind}|${t.at}`;

export interface ProcessorStatus {
  partitions: number[];
  users: number;
  staleUsers: number;
  eventsApplied: number;
  eventsDroppedLate: number;
  eventsRejected: number;
  transitions: number;
  timerFires: number;
  generation: number;
  /** Segment id → users still to evaluate after its latest change. */
  backfill: Record<string, { version: number; remaining: number; total: number }>;
}

export interface SegmentProcessor {
  status(): ProcessorStatus;
  /** Whether this process evaluates with the given version (or a newer one) of a segment. */
  hasDefinition(segmentId: string, version: number): boolean;
  /** The engine owning this user in this process, if any (embedded mode: explain, lookups). */
  engineOf(userId: string): PartitionEngine | undefined;
  /** Resolves when everything received so far has been evaluated and persisted (tests). */
  idle(): Promise<void>;
  close(): Promise<void>;
}

interface PartitionState {
  partition: number;
  engine: PartitionEngine;
  /** Last offset applied to the engine. */
  lastOffset: bigint | null;
  /** Transitions evaluated but not yet persisted (kept across a failed write). */
  pending: Transition[];
  /** Applied events not yet archived (likewise). */
  pendingEvents: IngestedEvent[];
  lastCheckpointAt: number;
  checkpointedOffset: bigint | null;
  commit: ((offset: string) => Promise<void>) | null;
  /** Serialises everything done to this partition (batches, timers, backfill). */
  queue: Promise<void>;
}

export async function startSegmentProcessor(
  deps: SegmentProcessorDeps,
  options: SegmentProcessorOptions,
): Promise<SegmentProcessor> {
  const groupId = options.groupId ?? "segment-processor";
  const checkpointIntervalMs = options.checkpointIntervalMs ?? 5_000;
  const refreshChunk = options.refreshChunk ?? 2_000;
  const { log } = deps;

  const partitions = new Map<number, PartitionState>();
  const known = new Map<string, EngineDefinition>();
  let definitions: Definitions | null = null;
  const bufferedUpdates: SegmentUpdateMessage[] = [];
  let eventsRejected = 0;
  let closed = false;
  const backfill = new Map<string, { version: number; total: number }>();

  const exclusive = (st: PartitionState, fn: () => Promise<void>): Promise<void> => {
    const run = st.queue.then(fn);
    st.queue = run.catch(() => {});
    return run;
  };

  // ---- persistence -----------------------------------------------------------------------

  async function persist(st: PartitionState): Promise<void> {
    if (st.pendingEvents.length > 0 && deps.archive) {
      await deps.archive.append(st.pendingEvents);
    }
    st.pendingEvents = [];
    if (st.pending.length === 0) return;
    const changes: MembershipChange[] = st.pending.map((t) => ({
      userId: t.userId,
      segmentId: t.segmentId,
      kind: t.kind,
      at: t.at,
      cause: t.cause,
      version: t.version,
    }));
    await deps.memberships.apply(changes);
    await deps.history.record(changes);
    await deps.eventLog.append(
      TOPICS.segmentMemberships,
      changes.map((c) => ({ key: c.userId, value: JSON.stringify({ id: transitionId(c), ...c } satisfies MembershipMessage) })),
    );
    st.pending = [];
  }

  async function checkpoint(st: PartitionState): Promise<void> {
    if (st.lastOffset === null || st.pending.length > 0) return;
    const snapshot = await gzipAsync(Buffer.from(JSON.stringify(st.engine.serialize())));
    const offset = st.lastOffset.toString();
    await deps.checkpoints.save(groupId, TOPICS.userEvents, st.partition, { offset, snapshot });
    st.checkpointedOffset = st.lastOffset;
    st.lastCheckpointAt = Date.now();
    await st.commit?.(offset).catch((error: unknown) => log.warn({ err: error }, "offset commit failed"));
  }

  async function loadPartition(partition: number): Promise<PartitionState> {
    const engine = new PartitionEngine(definitions!);
    const st: PartitionState = {
      partition,
      engine,
      lastOffset: null,
      pending: [],
      pendingEvents: [],
      lastCheckpointAt: Date.now(),
      checkpointedOffset: null,
      commit: null,
      queue: Promise.resolve(),
    };
    const saved = await deps.checkpoints.load(groupId, TOPICS.userEvents, partition);
    if (saved) {
      const snapshot = JSON.parse((await gunzipAsync(saved.snapshot)).toString("utf8")) as PartitionSnapshot;
      engine.restore(snapshot);
      st.lastOffset = BigInt(saved.offset);
      st.checkpointedOffset = st.lastOffset;
      log.info({ partition, offset: saved.offset, users: engine.users.size }, "partition restored from checkpoint");
      scheduleBackfill();
    }
    return st;
  }

  // ---- definitions -----------------------------------------------------------------------

  function causeOf(kind: SegmentUpdateMessage["kind"], def: EngineDefinition) {
    if (kind === "deleted" || def.deleted) return "deleted" as const;
    return def.active ? ("definition" as const) : ("deactivated" as const);
  }

  function applyUpdates(messages: SegmentUpdateMessage[]): void {
    if (!definitions) {
      bufferedUpdates.push(...messages);
      return;
    }
    const changed: { id: string; kind: SegmentUpdateMessage["kind"] }[] = [];
    for (const m of messages) {
      const current = known.get(m.segmentId);
      if (current && current.version >= m.version) continue; // replayed or already loaded
      known.set(m.segmentId, { ...m.definition, deleted: m.kind === "deleted" });
      changed.push({ id: m.segmentId, kind: m.kind });
    }
    if (changed.length === 0) return;
    const next = compileRuleSet({ definitions: known.values(), previous: definitions.ruleSet });
    definitions.install(
      next,
      changed.map(({ id, kind }) => {
        const seg = next.segments.get(id)!;
        return { slot: seg.slot, cause: kind === "deleted" ? "deleted" : causeOfState(seg) };
      }),
    );
    let total = 0;
    for (const st of partitions.values()) total += st.engine.users.size;
    for (const { id, kind } of changed) {
      const def = known.get(id)!;
      backfill.set(id, { version: def.version, total });
      log.info({ segmentId: id, version: def.version, kind, cause: causeOf(kind, def), users: total }, "definition change");
    }
    scheduleBackfill();
  }

  let backfilling: Promise<void> | null = null;
  let backfillRequested = false;
  /** Brings every user up to date with the latest definitions, in bounded steps. */
  function scheduleBackfill(): void {
    backfillRequested = true;
    if (backfilling || closed) return;
    backfilling = runBackfill()
      .catch(async (error: unknown) => {
        log.error({ err: error }, "backfill step failed; retrying");
        await new Promise((r) => setTimeout(r, 1000));
        backfillRequested = true;
      })
      .finally(() => {
        backfilling = null;
        if (backfillRequested && !closed) scheduleBackfill();
      });
  }

  let lastReport = 0;
  /** Reports this instance's part of each changed segment's backfill (at most every 500 ms). */
  async function reportProgress(remaining: number): Promise<void> {
    if (!deps.progress || backfill.size === 0) return;
    if (remaining > 0 && Date.now() - lastReport < 500) return;
    lastReport = Date.now();
    const rows = [...backfill].map(([segmentId, b]) => ({
      segmentId,
      version: b.version,
      usersTotal: b.total,
      usersRemaining: remaining,
    }));
    await deps.progress.report(options.instanceId, rows).catch((error: unknown) => log.warn({ err: error }, "progress report failed"));
    if (remaining === 0) backfill.clear();
  }

  async function runBackfill(): Promise<void> {
    await Promise.resolve();
    for (;;) {
      backfillRequested = false;
      let remaining = 0;
      for (const st of [...partitions.values()]) {
        await exclusive(st, async () => {
          const r = st.engine.refresh(refreshChunk, deps.clock.now().getTime());
          st.pending.push(...r.transitions);
          remaining += r.remaining;
          await persist(st);
        });
      }
      await reportProgress(remaining);
      if (closed || remaining === 0) break;
      await new Promise((r) => setImmediate(r));
    }
    if (definitions) {
      let oldest = definitions.ruleSet.generation;
      for (const st of partitions.values()) oldest = Math.min(oldest, st.engine.oldestGeneration());
      definitions.prune(oldest);
    }
  }

  // ---- consumption -----------------------------------------------------------------------

  async function handleEvents(batch: ConsumedBatch): Promise<void> {
    let st = partitions.get(batch.partition);
    if (!st) {
      st = await loadPartition(batch.partition);
      partitions.set(batch.partition, st);
    }
    const state = st;
    state.commit = batch.commit;
    await exclusive(state, async () => {
      await persist(state); // what a failed write left behind goes first
      const first = BigInt(batch.messages[0]!.offset);
      if (state.lastOffset !== null && first > state.lastOffset + 1n) {
        log.warn({ partition: state.partition, expected: (state.lastOffset + 1n).toString(), got: first.toString() }, "offset gap");
      }
      for (const m of batch.messages) {
        const offset = BigInt(m.offset);
        if (state.lastOffset !== null && offset <= state.lastOffset) continue; // already in the state
        state.lastOffset = offset;
        let raw: unknown = null;
        try {
          raw = JSON.parse(m.value);
        } catch {
          raw = null;
        }
        const known = userKnownMessageSchema.safeParse(raw);
        if (known.success) {
          state.pending.push(...state.engine.touchUser(known.data.userId, m.timestamp));
          continue;
        }
        const parsed = ingestedEventSchema.safeParse(raw);
        if (!parsed.success) {
          eventsRejected++;
          log.warn({ partition: state.partition, offset: m.offset }, "unparseable user event skipped");
          continue;
        }
        const e = parsed.data;
        state.pendingEvents.push(e);
        state.pending.push(
          ...state.engine.applyEvent(
            { userId: e.userId, eventType: e.eventType, timestamp: e.timestamp, attributes: e.attributes },
            m.timestamp,
          ),
        );
      }
      await persist(state);
      if (Date.now() - state.lastCheckpointAt >= checkpointIntervalMs) await checkpoint(state);
    });
  }

  function onAssignment(assigned: PartitionRef[]): void {
    const mine = new Set(assigned.filter((p) => p.topic === TOPICS.userEvents).map((p) => p.partition));
    for (const [p, st] of partitions) {
      if (mine.has(p)) continue;
      // Moved to another member, which restores it from the last checkpoint.
      partitions.delete(p);
      void exclusive(st, async () => {});
      log.info({ partition: p }, "partition revoked");
    }
  }

  // ---- timers ----------------------------------------------------------------------------

  let timer: NodeJS.Timeout | null = null;
  let ticking: Promise<void> | null = null;
  function scheduleTick(): void {
    if (closed) return;
    let next = Infinity;
    for (const st of partitions.values()) next = Math.min(next, st.engine.nextDueMs());
    const delay = Math.max(0, Math.min(250, next - deps.clock.now().getTime()));
    timer = setTimeout(() => {
      ticking = tick().finally(() => {
        ticking = null;
        scheduleTick();
      });
    }, delay);
  }

  let lastPurge = 0;
  async function tick(): Promise<void> {
    const now = deps.clock.now().getTime();
    if (deps.archive && now - lastPurge > 60_000) {
      lastPurge = now;
      // The archive serves 24-hour lookups; an hour of slack keeps late events explainable.
      await deps.archive.purgeBefore(now - 25 * 3600_000).catch((error: unknown) => log.warn({ err: error }, "archive purge failed"));
    }
    for (const st of [...partitions.values()]) {
      if (st.engine.nextDueMs() > now && st.pending.length === 0) continue;
      await exclusive(st, async () => {
        st.pending.push(...st.engine.advance(now));
        await persist(st);
      }).catch((error: unknown) => log.warn({ err: error }, "persisting time-driven transitions failed; will retry"));
    }
  }

  // ---- start -----------------------------------------------------------------------------

  // Subscribe to changes first, then load: a change committed in between is not missed.
  const updates: Subscription = await deps.eventLog.subscribe({
    groupId: `segment-processor-defs-${options.instanceId}`,
    topics: [TOPICS.segmentUpdates],
    fromBeginning: false,
    handleBatch: async (batch) => {
      const parsed: SegmentUpdateMessage[] = [];
      for (const m of batch.messages) {
        try {
          const r = segmentUpdateMessageSchema.safeParse(JSON.parse(m.value));
          if (r.success) parsed.push(r.data);
          else log.warn({ offset: m.offset }, "unparseable segment update skipped");
        } catch {
          log.warn({ offset: m.offset }, "unparseable segment update skipped");
        }
      }
      applyUpdates(parsed);
    },
  });
  const initial = await deps.segments.evaluationDefinitions();
  for (const d of initial) known.set(d.id, d);
  definitions = new Definitions(compileRuleSet({ definitions: known.values() }));
  applyUpdates(bufferedUpdates.splice(0));
  log.info({ segments: known.size, active: definitions.ruleSet.ordered.length }, "definitions loaded");

  const events: Subscription = await deps.eventLog.subscribe({
    groupId,
    topics: [TOPICS.userEvents],
    fromBeginning: options.fromBeginning ?? true,
    commit: "manual",
    onAssignment,
    handleBatch: handleEvents,
  });
  scheduleTick();

  return {
    status() {
      let users = 0;
      let staleUsers = 0;
      let eventsApplied = 0;
      let eventsDroppedLate = 0;
      let transitions = 0;
      let timerFires = 0;
      for (const st of partitions.values()) {
        users += st.engine.users.size;
        staleUsers += st.engine.staleUsers();
        eventsApplied += st.engine.stats.eventsApplied;
        eventsDroppedLate += st.engine.stats.eventsDroppedLate;
        transitions += st.engine.stats.transitions;
        timerFires += st.engine.stats.timerFires;
      }
      const progress: ProcessorStatus["backfill"] = {};
      for (const [id, b] of backfill) progress[id] = { version: b.version, total: b.total, remaining: staleUsers };
      return {
        partitions: [...partitions.keys()].sort((a, b) => a - b),
        users,
        staleUsers,
        eventsApplied,
        eventsDroppedLate,
        eventsRejected,
        transitions,
        timerFires,
        generation: definitions?.ruleSet.generation ?? 0,
        backfill: progress,
      };
    },
    hasDefinition(segmentId, version) {
      return (known.get(segmentId)?.version ?? 0) >= version;
    },
    engineOf(userId) {
      for (const st of partitions.values()) if (st.engine.users.has(userId)) return st.engine;
      return undefined;
    },
    async idle() {
      for (let i = 0; i < 3; i++) {
        await Promise.all([...partitions.values()].map((st) => st.queue));
        if (backfilling) await backfilling;
        if (ticking) await ticking;
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      if (timer) clearTimeout(timer);
      await events.close();
      await updates.close();
      if (ticking) await ticking;
      if (backfilling) await backfilling;
      for (const st of partitions.values()) {
        await exclusive(st, async () => {
          await persist(st);
          await checkpoint(st);
        }).catch((error: unknown) => log.warn({ err: error }, "final checkpoint failed"));
      }
    },
  };
}
