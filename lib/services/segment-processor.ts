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
 *
 * Failures: what can never succeed is dead-lettered (`dead-letters`, a {@link DeadLetter}
 * envelope naming where it came from and why) and counted, then processing moves on — a message
 * that does not parse, a definition of a segment this database does not have (another
 * deployment's, on a shared broker), a write the database refuses for its data (SQLSTATE class
 * 22/23, isolated by bisection so only the offending rows go). Everything else (connections,
 * timeouts, serialization failures, the log being down) is retried with a capped back-off:
 * the batch is handed over again by the event log, time-driven work waits out the back-off.
 */
import { promisify } from "node:util";
import { constants as zlib, gunzip, gzip } from "node:zlib";
import { Definitions, PartitionEngine, causeOfState, type PartitionSnapshot, type Transition } from "@/lib/evaluation/engine";
import { compileRuleSet, type EngineDefinition } from "@/lib/evaluation/ruleset";
import { ingestedEventSchema, userErasedMessageSchema, userKnownMessageSchema } from "@/lib/events/schema";
import { parseIngestedEvent } from "@/lib/events/fast-parse";
import { EventArchiver } from "@/lib/services/event-archiver";
import type { CheckpointStore } from "@/lib/ports/checkpoints";
import type { Clock } from "@/lib/ports/clock";
import type { ConsumedBatch, ConsumedMessage, EventLog, LogMessage, PartitionRef, Subscription } from "@/lib/ports/event-log";
import type { MembershipChange, MembershipHistory, MembershipStore } from "@/lib/ports/memberships";
import type { SegmentStore } from "@/lib/ports/segments";
import type { UserEventArchive } from "@/lib/ports/user-events";
import type { EvaluationProgressStore } from "@/lib/ports/evaluation-progress";
import type { IngestedEvent } from "@/lib/events/schema";
import { segmentUpdateMessageSchema, type SegmentUpdateMessage } from "@/lib/segments/model";
import { TOPICS, type DeadLetter } from "@/lib/topics";
import { errorText, isForeignKeyViolation, isPermanentError } from "@/lib/services/failure";
import { traceIdOf } from "@/lib/log";

const gzipAsync = promisify(gzip);
/** Fastest gzip: ~10× quicker than the default level on engine snapshots, ~40 % larger. */
const GZIP_FAST = { level: zlib.Z_BEST_SPEED };
const gunzipAsync = promisify(gunzip);

export interface ProcessorLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  /** pino's: with debug on, each evaluated event is logged under its request's trace id. */
  debug?(obj: object, msg?: string): void;
  isLevelEnabled?(level: string): boolean;
  child?(bindings: object): ProcessorLogger;
}

export interface SegmentProcessorDeps {
  eventLog: EventLog;
  /** `names` tells which segments exist here (a definition change for any other is dead-lettered). */
  segments: Pick<SegmentStore, "evaluationDefinitions" | "names">;
  memberships: MembershipStore;
  history: MembershipHistory;
  checkpoints: CheckpointStore;
  /** Where the applied events are kept for lookups and explain (optional; written in the background). */
  archive?: UserEventArchive;
  /**
   * Writes memberships and history of a batch at once (PostgreSQL: one statement). Default:
   * `memberships.apply` then `history.record`.
   */
  transitions?: TransitionWriter;
  /** Where backfill progress is reported for the segment stats (optional). */
  progress?: EvaluationProgressStore;
  clock: Clock;
  log: ProcessorLogger;
}

/** Writes a batch of transitions to the serving store and the history, idempotently. */
export interface TransitionWriter {
  write(changes: readonly MembershipChange[]): Promise<void>;
}

export interface SegmentProcessorOptions {
  /** Consumer group of `user-events`. */
  groupId?: string;
  /** Unique per process: its `segment-updates` subscription is a group of its own. */
  instanceId: string;
  /**
   * Checkpoint a partition at most this often (and on shutdown). Default 15 s: a checkpoint
   * serializes the partition's whole state on the event loop (~0.1 s per 10,000 users), and a
   * restart replays at most this much of the log.
   */
  checkpointIntervalMs?: number;
  /** How many `user-events` partitions' batches are handled at once (each stays in order). Default 4. */
  concurrency?: number;
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
  /** Unparseable `user-events` messages (dead-lettered). */
  eventsRejected: number;
  /** Messages and writes given up on and published to `dead-letters`, by reason. */
  deadLetters: Record<string, number>;
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
  /** Users erased from the engine whose stored memberships, history and events are still to delete. */
  pendingErasures: string[];
  /** Consecutive failed persists, and when the next attempt is due (time-driven work backs off). */
  failures: number;
  retryAt: number;
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
  const checkpointIntervalMs = options.checkpointIntervalMs ?? 15_000;
  const refreshChunk = options.refreshChunk ?? 2_000;
  const { log } = deps;

  const partitions = new Map<number, PartitionState>();
  const known = new Map<string, EngineDefinition>();
  let definitions: Definitions | null = null;
  const bufferedUpdates: SegmentUpdateMessage[] = [];
  let eventsRejected = 0;
  const deadLetterCounts = new Map<string, number>();
  /** Segments a write found missing from this database: their transitions are dropped. */
  const foreign = new Set<string>();
  let closed = false;
  /** Dead letters not yet published (kept across a failed publish; flushed before any checkpoint). */
  let deadLetterQueue: LogMessage[] = [];
  const archiver = deps.archive
    ? new EventArchiver(deps.archive, {
        log,
        onRejected: (e: IngestedEvent, error: unknown) =>
          deadLetterQueue.push(deadLetter("invalid-data", errorText(error), JSON.stringify(e), e.userId)),
      })
    : null;
  const writeTransitions = deps.transitions
    ? (xs: MembershipChange[]) => deps.transitions!.write(xs)
    : async (xs: MembershipChange[]) => {
        await deps.memberships.apply(xs);
        await deps.history.record(xs);
      };
  const backfill = new Map<string, { version: number; total: number }>();

  const exclusive = (st: PartitionState, fn: () => Promise<void>): Promise<void> => {
    const run = st.queue.then(fn);
    st.queue = run.catch(() => {});
    return run;
  };

  // ---- dead letters ----------------------------------------------------------------------

  function deadLetter(reason: string, error: string, value: string, key: string, source?: ConsumedMessage): LogMessage {
    deadLetterCounts.set(reason, (deadLetterCounts.get(reason) ?? 0) + 1);
    const letter: DeadLetter = {
      consumer: "segment-processor",
      ...(source
        ? { source: { topic: source.topic, partition: source.partition, offset: source.offset, key: source.key, timestamp: source.timestamp } }
        : {}),
      reason,
      error,
      value,
      at: Date.now(),
    };
    const headers: Record<string, string> = { reason, consumer: "segment-processor" };
    if (source) {
      headers["original-topic"] = source.topic;
      headers["original-partition"] = String(source.partition);
      headers["original-offset"] = source.offset;
    }
    log.warn(
      { reason, error, key, ...(source ? { topic: source.topic, partition: source.partition, offset: source.offset, traceId: traceIdOf(source.headers) } : {}) },
      "dead-lettered",
    );
    return { key, value: JSON.stringify(letter), headers };
  }

  async function flushDeadLetters(): Promise<void> {
    if (deadLetterQueue.length === 0) return;
    const letters = deadLetterQueue;
    deadLetterQueue = [];
    try {
      await deps.eventLog.append(TOPICS.deadLetters, letters);
    } catch (error) {
      deadLetterQueue = letters.concat(deadLetterQueue);
      throw error;
    }
  }

  /**
   * Writes `items` with `write`; a permanent failure (SQLSTATE class 22/23) is narrowed down by
   * halving until the offending items are alone, which go to `bad`. Order is kept (left half
   * first), so an ordered write (memberships, history) stays correct. Transient failures throw.
   */
  async function isolating<T>(items: T[], write: (xs: T[]) => Promise<void>, bad: (x: T, error: unknown) => void): Promise<T[]> {
    if (items.length === 0) return items;
    try {
      await write(items);
      return items;
    } catch (error) {
      if (!isPermanentError(error)) throw error;
      if (items.length === 1) {
        bad(items[0]!, error);
        return [];
      }
      const mid = items.length >> 1;
      const left = await isolating(items.slice(0, mid), write, bad);
      const right = await isolating(items.slice(mid), write, bad);
      return left.concat(right);
    }
  }

  // ---- persistence -----------------------------------------------------------------------

  const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

  /** The ids among `ids` that this database has no segment for. */
  async function unknownSegments(ids: Iterable<string>): Promise<Set<string>> {
    const all = [...new Set(ids)];
    const shaped = all.filter((id) => UUID.test(id));
    const found = shaped.length > 0 ? await deps.segments.names(shaped) : new Map<string, string>();
    return new Set(all.filter((id) => !found.has(id)));
  }

  /** Stops evaluating segments this database does not have (their members exit, unrecorded). */
  function forgetSegments(ids: Set<string>): void {
    for (const id of ids) foreign.add(id);
    if (!definitions) return;
    const changed = [...ids].filter((id) => known.has(id) && !known.get(id)!.deleted);
    if (changed.length === 0) return;
    for (const id of changed) known.set(id, { ...known.get(id)!, deleted: true });
    const next = compileRuleSet({ definitions: known.values(), previous: definitions.ruleSet });
    definitions.install(next, changed.map((id) => ({ slot: next.segments.get(id)!.slot, cause: "deleted" as const })));
    scheduleBackfill();
  }

  /** Memberships then history; a permanent failure dead-letters only the transitions it is about. */
  async function writeChanges(changes: MembershipChange[]): Promise<MembershipChange[]> {
    const write = writeTransitions;
    try {
      await write(changes);
      return changes;
    } catch (error) {
      if (!isPermanentError(error)) throw error;
      if (isForeignKeyViolation(error)) {
        const missing = await unknownSegments(changes.map((c) => c.segmentId));
        if (missing.size > 0) {
          for (const id of missing) {
            const dropped = changes.filter((c) => c.segmentId === id);
            deadLetterQueue.push(deadLetter("unknown-segment", errorText(error), JSON.stringify(dropped.slice(0, 100)), id));
          }
          forgetSegments(missing);
          return writeChanges(changes.filter((c) => !missing.has(c.segmentId)));
        }
      }
      return isolating(changes, write, (c, e) => deadLetterQueue.push(deadLetter("invalid-data", errorText(e), JSON.stringify(c), c.userId)));
    }
  }

  /** Writes the partition's erasures and pending transitions, publishes them, then any dead letters. */
  async function persist(st: PartitionState): Promise<void> {
    // Erasures before the writes: what is pending for an erased user came after the erasure.
    // (The user's archived events are erased by the archiver, in order with its writes.)
    for (const userId of st.pendingErasures) {
      await deps.memberships.eraseUser(userId);
      await deps.history.eraseUser(userId);
    }
    st.pendingErasures = [];
    if (st.pending.length > 0) {
      const changes: MembershipChange[] = [];
      for (const t of st.pending) {
        if (foreign.has(t.segmentId)) continue;
        changes.push({ userId: t.userId, segmentId: t.segmentId, kind: t.kind, at: t.at, cause: t.cause, version: t.version });
      }
      const written = await writeChanges(changes);
      if (written.length > 0) {
        await deps.eventLog.append(
          TOPICS.segmentMemberships,
          written.map((c) => ({ key: c.userId, value: JSON.stringify({ id: transitionId(c), ...c } satisfies MembershipMessage) })),
        );
      }
      st.pending = [];
    }
    await flushDeadLetters();
  }

  /** Runs `persist` for time-driven work, backing off after failures (logged once per outage). */
  async function persistOrBackOff(st: PartitionState): Promise<void> {
    try {
      await persist(st);
      if (st.failures > 0) log.info({ partition: st.partition, failures: st.failures }, "writes recovered");
      st.failures = 0;
    } catch (error) {
      st.failures++;
      st.retryAt = Date.now() + Math.min(100 * 2 ** Math.min(st.failures, 10), 5_000);
      if (st.failures === 1 || st.failures % 50 === 0) {
        log.warn({ partition: st.partition, failures: st.failures, error: errorText(error) }, "writes failed; retrying with back-off");
      }
      throw error;
    }
  }

  async function checkpoint(st: PartitionState): Promise<void> {
    if (st.lastOffset === null || st.pending.length > 0 || deadLetterQueue.length > 0) return;
    if (st.pendingErasures.length > 0) return;
    // Everything the checkpoint covers must be archived (and erased): a replay from it will not do it again.
    if (archiver && !(await archiver.flush(5_000))) {
      log.warn({ partition: st.partition }, "checkpoint postponed: the event archive is behind");
      return;
    }
    const snapshot = await gzipAsync(Buffer.from(JSON.stringify(st.engine.serialize())), GZIP_FAST);
    const offset = st.lastOffset.toString();
    await deps.checkpoints.save(groupId, TOPICS.userEvents, st.partition, { offset, snapshot });
    st.checkpointedOffset = st.lastOffset;
    st.lastCheckpointAt = Date.now();
    // Closing, the subscription has already left the group and cannot commit; the checkpoint just
    // saved is what the partition's next owner starts from (it skips what the checkpoint holds).
    if (closed) return;
    await st.commit?.(offset).catch((error: unknown) => log.warn({ err: error }, "offset commit failed"));
  }

  async function loadPartition(partition: number): Promise<PartitionState> {
    const engine = new PartitionEngine(definitions!);
    const st: PartitionState = {
      partition,
      engine,
      lastOffset: null,
      pending: [],
      pendingErasures: [],
      failures: 0,
      retryAt: 0,
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
        log.warn({ error: errorText(error) }, "backfill step failed; retrying in 1 s");
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
          await persistOrBackOff(st);
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
      await persistOrBackOff(state); // what a failed write left behind goes first
      const first = BigInt(batch.messages[0]!.offset);
      if (state.lastOffset !== null && first > state.lastOffset + 1n) {
        log.warn({ partition: state.partition, expected: (state.lastOffset + 1n).toString(), got: first.toString() }, "offset gap");
      }
      let erasures = 0;
      let applied: IngestedEvent[] = [];
      // Off the hot path unless debug logging is on.
      const tracing = log.isLevelEnabled?.("debug") && log.child ? log.child : null;
      const engine = state.engine;
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
        // The hot path: an event, checked by hand (lib/events/fast-parse.ts); zod only for the rest.
        const e = parseIngestedEvent(raw);
        if (e !== null) {
          const late = engine.stats.eventsDroppedLate;
          const out = engine.applyEvent(e, m.timestamp);
          // Dropped as too late (counted in eventsDroppedLate): not archived either.
          if (engine.stats.eventsDroppedLate === late) applied.push(e);
          for (const t of out) state.pending.push(t);
          if (tracing) {
            tracing
              .call(log, { traceId: traceIdOf(m.headers) })
              .debug?.({ userId: e.userId, eventType: e.eventType, partition: m.partition, offset: m.offset, transitions: out.length }, "event evaluated");
          }
          continue;
        }
        const kind = (raw as { kind?: unknown } | null)?.kind;
        const erased = kind === "user-erased" ? userErasedMessageSchema.safeParse(raw) : null;
        if (erased?.success) {
          // Erasure (docs/privacy.md): forgotten without recording or publishing exits — the
          // user's memberships and history are deleted, and downstream must not hear of them again.
          const userId = erased.data.userId;
          engine.eraseUser(userId, m.timestamp);
          state.pending = state.pending.filter((t) => t.userId !== userId);
          // Archived in order: what came before is erased with the user, what comes after stays.
          archiver?.add(applied.filter((x) => x.userId !== userId));
          applied = [];
          archiver?.erase(userId);
          state.pendingErasures.push(userId);
          erasures++;
          continue;
        }
        const known = kind === "user-known" ? userKnownMessageSchema.safeParse(raw) : null;
        if (known?.success) {
          for (const t of engine.touchUser(known.data.userId, m.timestamp)) state.pending.push(t);
          continue;
        }
        eventsRejected++;
        const parsed = ingestedEventSchema.safeParse(raw);
        const why = raw === null ? "not JSON" : (parsed.error?.issues.map((i) => `${i.path.join(".") || "value"}: ${i.message}`).join("; ") ?? "invalid");
        deadLetterQueue.push(deadLetter("unparseable", why.slice(0, 300), m.value, m.key, m));
      }
      archiver?.add(applied);
      await persistOrBackOff(state);
      // After an erasure at once: no stored state may keep the user for a checkpoint interval.
      if (erasures > 0 || Date.now() - state.lastCheckpointAt >= checkpointIntervalMs) await checkpoint(state);
    });
    // Back-pressure: consume no further while the archive is far behind.
    await archiver?.room();
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
      if (st.retryAt > Date.now()) continue; // backing off after a failed write
      await exclusive(st, async () => {
        st.pending.push(...st.engine.advance(now));
        await persistOrBackOff(st);
      }).catch(() => undefined); // logged by persistOrBackOff; retried after the back-off
    }
  }

  // ---- start -----------------------------------------------------------------------------

  // Subscribe to changes first, then load: a change committed in between is not missed.
  const updates: Subscription = await deps.eventLog.subscribe({
    groupId: `segment-processor-defs-${options.instanceId}`,
    topics: [TOPICS.segmentUpdates],
    fromBeginning: false,
    handleBatch: async (batch) => {
      const parsed: { message: ConsumedMessage; update: SegmentUpdateMessage }[] = [];
      const letters: LogMessage[] = [];
      for (const m of batch.messages) {
        let raw: unknown = null;
        try {
          raw = JSON.parse(m.value);
        } catch {
          raw = null;
        }
        const r = segmentUpdateMessageSchema.safeParse(raw);
        if (r.success) parsed.push({ message: m, update: r.data });
        else letters.push(deadLetter("unparseable", raw === null ? "not JSON" : r.error.issues[0]?.message ?? "invalid", m.value, m.key, m));
      }
      // A definition of a segment this database does not have (another deployment's, sharing the
      // broker) would make every membership write fail on the foreign key: dead-letter it.
      const fresh = parsed.filter(({ update }) => (known.get(update.segmentId)?.version ?? 0) < update.version);
      const missing = fresh.length > 0 ? await unknownSegments(fresh.map(({ update }) => update.segmentId)) : new Set<string>();
      for (const { message, update } of parsed) {
        if (missing.has(update.segmentId)) {
          letters.push(deadLetter("unknown-segment", `segment ${update.segmentId} does not exist in this database`, message.value, message.key, message));
        }
      }
      // Published before the batch counts as handled: a failure redelivers it (applying is idempotent).
      if (letters.length > 0) await deps.eventLog.append(TOPICS.deadLetters, letters);
      applyUpdates(parsed.filter(({ update }) => !missing.has(update.segmentId)).map(({ update }) => update));
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
    concurrency: options.concurrency ?? 4,
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
        deadLetters: Object.fromEntries(deadLetterCounts),
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
        }).catch((error: unknown) => log.warn({ error: errorText(error) }, "final checkpoint failed"));
      }
      await archiver?.close();
    },
  };
}
