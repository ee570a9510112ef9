import { randomUUID } from "node:crypto";
import { AppError, validationError } from "@/lib/errors";
import { toIngestedEvent, validateEvent, validateEvents, type EventValidation } from "@/lib/events/schema";
import type { EventLog, LogMessage } from "@/lib/ports/event-log";
import { TOPICS } from "@/lib/topics";
import type { RequestContext } from "./context";
import { TRACE_HEADER } from "@/lib/log";
import { metrics } from "@/lib/metrics";

/**
 * Event ingestion (FR8): validate every event against the schema and the time window around
 * the request's `now`, then append the whole batch to `user-events` (key = userId, so one
 * user's events keep their order) and answer only once the log says it is durable.
 *
 * A batch is all or nothing as far as validation goes: one bad event and nothing is appended.
 * An append that fails (EventLogUnavailableError → 503 with Retry-After) may have reached some
 * partitions; a client's retry can then duplicate those events, each under a new eventId.
 */
export interface IngestDeps {
  eventLog: EventLog;
}

export type IngestContext = Pick<RequestContext, "traceId" | "now">;

export interface IngestResult {
  accepted: number;
}

/**
 * Events are appended in chunks of at most this many value bytes, in order: one Kafka record
 * batch must stay under the broker's message.max.bytes (1 MiB by default), and a full 1 MB
 * request for a single user lands in one partition.
 */
const MAX_APPEND_BYTES = 512 * 1024;

/** POST /api/v1/events: `events[i].field` paths in validation errors. */
export function ingestEvents(deps: IngestDeps, events: readonly unknown[], ctx: IngestContext): Promise<IngestResult> {
  return append(deps, events.length, validateEvents(events, ctx.now.getTime()), ctx);
}

/** POST /api/v1/events/single: paths name the field alone. */
export function ingestEvent(deps: IngestDeps, event: unknown, ctx: IngestContext): Promise<IngestResult> {
  return append(deps, 1, validateEvent(event, ctx.now.getTime()), ctx);
}

async function append(deps: IngestDeps, total: number, result: EventValidation, ctx: IngestContext): Promise<IngestResult> {
  if (!result.ok) {
    metrics().eventsRejected.inc({ source: "rest", reason: "invalid" }, total);
    const failing = new Set(result.issues.map((i) => /^events\[(\d+)\]/.exec(i.field)?.[1] ?? "0")).size;
    throw validationError(
      result.issues,
      total > 1 ? `${failing} of ${total} events are invalid; none was accepted` : "The event is invalid; it was not accepted",
    );
  }
  const receivedAt = ctx.now.getTime();
  const messages: LogMessage[] = result.events.map((event) => ({
    key: event.userId,
    value: JSON.stringify(toIngestedEvent(event, randomUUID(), receivedAt)),
    headers: { [TRACE_HEADER]: ctx.traceId },
  }));
  const health = healthOf(deps.eventLog);
  try {
    for (const chunk of chunks(messages)) await deps.eventLog.append(TOPICS.userEvents, chunk);
  } catch (error) {
    health.lastAppend = { ok: false, at: receivedAt };
    metrics().eventsRejected.inc({ source: "rest", reason: "unavailable" }, messages.length);
    throw error;
  }
  health.lastAppend = { ok: true, at: receivedAt };
  metrics().eventsIngested.inc({ source: "rest" }, messages.length);
  return { accepted: messages.length };
}

function* chunks(messages: LogMessage[]): Generator<LogMessage[]> {
  let chunk: LogMessage[] = [];
  let bytes = 0;
  for (const m of messages) {
    const size = Buffer.byteLength(m.value) + Buffer.byteLength(m.key);
    if (chunk.length > 0 && bytes + size > MAX_APPEND_BYTES) {
      yield chunk;
      chunk = [];
      bytes = 0;
    }
    chunk.push(m);
    bytes += size;
  }
  if (chunk.length > 0) yield chunk;
}

// --- health -------------------------------------------------------------------------------

export type EventLogKind = "kafka" | "local";

export interface IngestHealthDeps {
  eventLog: EventLog;
  kind: EventLogKind;
  /** Partitions of `user-events` should the probe have to create it (as the runtime does). */
  partitions: number;
}

export interface IngestHealth {
  status: "ok";
  eventLog: EventLogKind;
  /** The outcome of this process's last append to `user-events`, if any. */
  lastAppend: { ok: boolean; at: string } | null;
  /** When the log last answered a probe, if one was needed. */
  checkedAt: string | null;
}

interface HealthState {
  lastAppend?: { ok: boolean; at: number };
  probe?: { ok: boolean; at: number };
  probing?: Promise<boolean>;
}

/** A successful append this recent needs no probe. */
const FRESH_APPEND_MS = 30_000;
/** A failed append this recent is the answer; later, a probe decides (so health recovers without traffic). */
const FAILED_APPEND_HOLD_MS = 5_000;
/** Probe results are reused this long, so a busy health check costs nothing. */
const PROBE_TTL_MS = 5_000;
const PROBE_TIMEOUT_MS = 2_000;

// Next bundles route handlers separately: the events and health routes share append outcomes
// through globalThis, keyed by the log instance (so each runtime, and each test, has its own).
const KEY = Symbol.for("audience-manager.ingest-health");
const g = globalThis as unknown as { [KEY]?: WeakMap<EventLog, HealthState> };

function healthOf(log: EventLog): HealthState {
  const states = (g[KEY] ??= new WeakMap());
  let state = states.get(log);
  if (!state) states.set(log, (state = {}));
  return state;
}

/** A light check that the log answers: ensuring `user-events` exists, which appends nothing. */
function probe(deps: IngestHealthDeps, state: HealthState, nowMs: number): Promise<boolean> {
  state.probing ??= (async () => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), PROBE_TIMEOUT_MS);
    });
    const check = deps.eventLog.ensureTopics([{ name: TOPICS.userEvents, partitions: deps.partitions }]).then(
      () => true,
      () => false,
    );
    try {
      const ok = await Promise.race([check, timeout]);
      state.probe = { ok, at: nowMs };
      return ok;
    } finally {
      clearTimeout(timer);
      state.probing = undefined;
    }
  })();
  return state.probing;
}

/**
 * Whether events can be appended now. Cheap: a recent append answers it (success for 30 s,
 * failure for 5 s); otherwise (no append yet, or none recent) the log is probed, at most every
 * few seconds. Throws SERVICE_UNAVAILABLE (503, Retry-After) when the log cannot take events.
 */
export async function checkIngestHealth(deps: IngestHealthDeps, now: Date): Promise<IngestHealth> {
  const nowMs = now.getTime();
  const state = healthOf(deps.eventLog);
  const last = state.lastAppend;
  let ok: boolean;
  let reason = "the event log did not answer a check";
  if (last && nowMs - last.at <= (last.ok ? FRESH_APPEND_MS : FAILED_APPEND_HOLD_MS)) {
    ok = last.ok;
    reason = "the last append to the event log failed";
  } else if (state.probe && state.probe.at >= (last?.at ?? 0) && nowMs - state.probe.at <= PROBE_TTL_MS) {
    ok = state.probe.ok;
  } else {
    ok = await probe(deps, state, nowMs);
  }

  const lastAppend = state.lastAppend ? { ok: state.lastAppend.ok, at: new Date(state.lastAppend.at).toISOString() } : null;
  if (!ok) {
    // No error text: this route is public, and adapter messages name hosts and ports.
    throw new AppError(
      "SERVICE_UNAVAILABLE",
      "The event log cannot accept events; retry shortly",
      { field: "eventLog", reason, eventLog: deps.kind, lastAppend },
      { "retry-after": "1" },
    );
  }
  return {
    status: "ok",
    eventLog: deps.kind,
    lastAppend,
    checkedAt: state.probe?.ok ? new Date(state.probe.at).toISOString() : null,
  };
}
