/**
 * The segment engine for one partition of users: event-time sliding windows, rule evaluation,
 * time-driven transitions and definition changes. Pure and synchronous: time is a parameter,
 * no I/O. The worker wires it to the event log, the membership store and a timer.
 *
 * Invariant: after a user's step at `evalAt`, `members` is exactly the set of active segments
 * whose definition (rule-set generation `generation`) holds at `evalAt`, and no rule the user is
 * subject to changes truth before `due`. Every step keeps it, so each step only visits the rules
 * whose truth can have changed.
 */
import { compare, eventTypes, type EventType } from "@/lib/segments/definition";
import { MinHeap } from "./heap";
import {
  anyFlip,
  anyThresholdIn,
  forEachFlipped,
  segmentHolds,
  typeIndex,
  type CompiledRule,
  type CompiledSegment,
  type RuleGroup,
  type RuleSet,
} from "./ruleset";
import {
  HORIZON_S,
  SECOND_PRECISION_S,
  addEvent,
  aggregate,
  compact,
  departureTime,
  forEachInWindow,
  inWindow,
  needsCompaction,
  newSeries,
  nextArrival,
  relSecond,
  toEpochMs,
  type Series,
} from "./window";

/** Drops enter/exit pairs of the same segment within one step, keeping the net change. */
function netOut(out: Transition[]): Transition[] {
  const last = new Map<string, number>();
  const first = new Map<string, Transition["kind"]>();
  out.forEach((t, i) => {
    if (!first.has(t.segmentId)) first.set(t.segmentId, t.kind);
    last.set(t.segmentId, i);
  });
  return out.filter((t, i) => {
    if (last.get(t.segmentId) !== i) return false;
    // enter … exit (or exit … enter) within the step cancels out.
    return first.get(t.segmentId) === t.kind;
  });
}

export type TransitionCause = "event" | "time" | "definition" | "deactivated" | "deleted" | "erased";

export interface Transition {
  userId: string;
  segmentId: string;
  kind: "enter" | "exit";
  /** Epoch milliseconds of the evaluation that saw the change. */
  at: number;
  cause: TransitionCause;
  /** Definition version of the segment that changed. */
  version: number;
}

export interface EngineEvent {
  userId: string;
  eventType: EventType;
  /** Event time, epoch milliseconds. */
  timestamp: number;
  attributes: Record<string, unknown>;
}

export interface UserState {
  /** Window buckets by event type index. */
  series: (Series | undefined)[];
  /** Slots of the segments the user is in, ascending. */
  members: number[];
  /** Relative second of the last evaluation. */
  evalAt: number;
  /** Rule-set generation the memberships are consistent with. */
  generation: number;
  /** Relative second of the next possible time-driven change (Infinity: none). */
  due: number;
}

/** A change of definitions the users must catch up with, and why. */
export interface DefinitionChange {
  generation: number;
  slot: number;
  cause: "definition" | "deactivated" | "deleted";
}

/** Shared by every partition engine of a process: the compiled rules and their change log. */
export class Definitions {
  changes: DefinitionChange[] = [];
  constructor(public ruleSet: RuleSet) {}

  /** Installs a newly compiled rule set and records which segments changed and how. */
  install(next: RuleSet, changed: { slot: number; cause: DefinitionChange["cause"] }[]): void {
    this.ruleSet = next;
    for (const c of changed) this.changes.push({ generation: next.generation, ...c });
  }

  /** Slots changed after `generation`, each with its latest cause. */
  changedSince(generation: number): Map<number, DefinitionChange["cause"]> {
    const out = new Map<number, DefinitionChange["cause"]>();
    for (let i = this.changes.length - 1; i >= 0; i--) {
      const c = this.changes[i]!;
      if (c.generation <= generation) break;
      if (!out.has(c.slot)) out.set(c.slot, c.cause);
    }
    return out;
  }

  /** Forgets changes every user has caught up with. */
  prune(oldestGeneration: number): void {
    const keep = this.changes.findIndex((c) => c.generation > oldestGeneration);
    this.changes = keep < 0 ? [] : this.changes.slice(keep);
  }
}

/** Rules that hold at zero events ("< 1 orders in 60 min") make every known user a member. */
const MAX_DUE_SCAN = 64;

function hasSlot(members: number[], slot: number): boolean {
  let lo = 0;
  let hi = members.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const v = members[mid]!;
    if (v === slot) return true;
    if (v < slot) lo = mid + 1;
    else hi = mid;
  }
  return false;
}

function setSlot(members: number[], slot: number, on: boolean): void {
  let lo = 0;
  let hi = members.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (members[mid]! < slot) lo = mid + 1;
    else hi = mid;
  }
  const present = lo < members.length && members[lo] === slot;
  if (on && !present) members.splice(lo, 0, slot);
  else if (!on && present) members.splice(lo, 1);
}

function numeric(v: unknown): number {
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (typeof v === "string" && v.trim() !== "") {
    const n = Number(v);
    if (Number.isFinite(n)) return n;
  }
  return 0;
}

function fieldValue(attributes: Record<string, unknown>, field: string): number {
  if (!field.includes(".")) return numeric(attributes[field]);
  let cur: unknown = attributes;
  for (const part of field.split(".")) {
    if (cur === null || typeof cur !== "object") return 0;
    cur = (cur as Record<string, unknown>)[part];
  }
  return numeric(cur);
}

/** Aggregates per (type, measure) for one user at one instant, computed on demand. */
class AggregateCache {
  private cache = new Map<number, number[]>();
  constructor(
    private readonly user: UserState,
    private readonly ruleSet: RuleSet,
    private readonly now: number,
  ) {}

  of(group: RuleGroup): number {
    const key = group.typeIdx * 1024 + group.measure + 1;
    let values = this.cache.get(key);
    const m = this.ruleSet.byType[group.typeIdx]!.measures.find((x) => x.measure === group.measure)!;
    if (!values) {
      values = new Array<number>(m.windows.length);
      aggregate(this.user.series[group.typeIdx], group.measure, m.windows, this.now, values);
      this.cache.set(key, values);
    }
    return values[m.groups.indexOf(group)]!;
  }

  set(typeIdx: number, measure: number, values: number[]): void {
    this.cache.set(typeIdx * 1024 + measure + 1, values);
  }
}

export interface EngineStats {
  users: number;
  eventsApplied: number;
  eventsDroppedLate: number;
  timerFires: number;
  transitions: number;
}

export interface PartitionSnapshot {
  /** Tracked sum fields per event type when the snapshot was taken. */
  fields: string[][];
  /** Segment id → "version:active" of the definitions the memberships are consistent with. */
  versions: Record<string, string>;
  users: Record<string, SerializedUser>;
}

/** Rebuilds a series with its sum columns in a new field order (-1: not in the snapshot → 0). */
function remapSeries(s: Series, columns: number[] | null): Series {
  if (!columns) return s;
  const stride = s[0]!;
  const out: Series = [2 + columns.length];
  for (let i = 1; i < s.length; i += stride) {
    out.push(s[i]!, s[i + 1]!);
    for (const c of columns) out.push(c >= 0 && 2 + c < stride ? s[i + 2 + c]! : 0);
  }
  return out;
}

export interface SerializedUser {
  s: (Series | null)[];
  /** Segment ids, so that a snapshot survives a restart that assigns new slots. */
  m: string[];
  e: number;
  /** Segment ids changed since this user was last brought up to date (the backfill's to-do). */
  p?: string[];
}

/** Why a segment in this state would make its members leave (or enter). */
export function causeOfState(seg: CompiledSegment): DefinitionChange["cause"] {
  if (seg.deleted) return "deleted";
  return seg.active ? "definition" : "deactivated";
}

const versionKey = (seg: CompiledSegment) => `${seg.version}:${seg.active ? 1 : 0}`;

/** One partition's users and timers. */
export class PartitionEngine {
  readonly users = new Map<string, UserState>();
  private readonly timers = new MinHeap<string>();
  readonly stats: EngineStats = { users: 0, eventsApplied: 0, eventsDroppedLate: 0, timerFires: 0, transitions: 0 };

  /** The latest evaluation instant seen (relative seconds): time never runs backwards here. */
  private clock = -Infinity;

  constructor(private readonly definitions: Definitions) {}

  private nowOf(nowMs: number): number {
    this.clock = Math.max(this.clock, relSecond(nowMs));
    return this.clock;
  }

  private get ruleSet(): RuleSet {
    return this.definitions.ruleSet;
  }

  /** Applies one event at processing time `nowMs`; returns the membership transitions. */
  applyEvent(event: EngineEvent, nowMs: number): Transition[] {
    let out: Transition[] = [];
    const now = this.nowOf(nowMs);
    const sec = relSecond(event.timestamp);
    if (sec <= now - HORIZON_S) {
      this.stats.eventsDroppedLate++;
      return out;
    }
    const isNew = !this.users.has(event.userId);
    const prevDue = this.users.get(event.userId)?.due ?? Infinity;
    const user = this.prepare(event.userId, now, nowMs, out);
    this.applyToUser(event, user, sec, now, nowMs, out);
    this.stats.eventsApplied++;
    this.finish(event.userId, user, now, prevDue);
    // A new user's zero-event memberships and its first event's effect are one change.
    if (isNew) out = netOut(out);
    this.stats.transitions += out.length;
    return out;
  }

  /** Makes a user known without an event (e.g. a profile was created): zero-event rules apply. */
  touchUser(userId: string, nowMs: number): Transition[] {
    const out: Transition[] = [];
    const now = this.nowOf(nowMs);
    const prevDue = this.users.get(userId)?.due ?? Infinity;
    const user = this.prepare(userId, now, nowMs, out);
    this.finish(userId, user, now, prevDue);
    this.stats.transitions += out.length;
    return out;
  }

  /**
   * Runs every time-driven check due at or before `nowMs`. Each user is evaluated at its own due
   * instants, not at `nowMs`, so a live run and a replay that catches up later agree.
   */
  advance(nowMs: number): Transition[] {
    const out: Transition[] = [];
    const now = relSecond(nowMs);
    while (this.timers.peekKey() <= now) {
      const due = this.timers.peekKey();
      const userId = this.timers.pop()!;
      const user = this.users.get(userId);
      if (!user || user.due !== due) continue; // superseded entry
      this.stats.timerFires++;
      this.clock = Math.max(this.clock, due);
      if (user.generation < this.ruleSet.generation) this.refreshUser(userId, user, toEpochMs(user.evalAt), out);
      this.timeSteps(userId, user, due, out);
      this.finish(userId, user, user.evalAt, Infinity);
    }
    this.stats.transitions += out.length;
    return out;
  }

  /** Epoch ms of the earliest pending time-driven check, or Infinity. */
  nextDueMs(): number {
    this.dropSuperseded();
    const k = this.timers.peekKey();
    return k === Infinity ? Infinity : toEpochMs(k);
  }

  /**
   * Brings up to `limit` users that have not seen the latest definitions up to date (the
   * backfill after a definition change). Returns the transitions and how many remain.
   */
  refresh(limit: number, nowMs: number): { transitions: Transition[]; remaining: number } {
    const out: Transition[] = [];
    const now = this.nowOf(nowMs);
    const gen = this.ruleSet.generation;
    let done = 0;
    let remaining = 0;
    for (const [userId, user] of this.users) {
      if (user.generation >= gen) continue;
      if (done >= limit) {
        remaining++;
        continue;
      }
      const prevDue = user.due;
      this.catchUp(userId, user, now, nowMs, out);
      this.finish(userId, user, now, prevDue);
      done++;
    }
    this.stats.transitions += out.length;
    return { transitions: out, remaining };
  }

  /** Users that have not yet seen the latest definitions. */
  staleUsers(): number {
    const gen = this.ruleSet.generation;
    let n = 0;
    for (const u of this.users.values()) if (u.generation < gen) n++;
    return n;
  }

  /** The oldest generation any user is at (to prune the change log). */
  oldestGeneration(): number {
    let min = this.ruleSet.generation;
    for (const u of this.users.values()) if (u.generation < min) min = u.generation;
    return min;
  }

  /** Forgets a user entirely (erasure): every membership exits with cause `erased`. */
  eraseUser(userId: string, nowMs: number): Transition[] {
    const user = this.users.get(userId);
    if (!user) return [];
    const out: Transition[] = [];
    for (const slot of user.members) this.emit(out, userId, slot, false, nowMs, "erased");
    this.users.delete(userId);
    this.stats.users = this.users.size;
    this.stats.transitions += out.length;
    return out;
  }

  /** Segment ids the user is in (after catching up with definitions and time at `nowMs`). */
  segmentsOf(userId: string): string[] {
    const user = this.users.get(userId);
    if (!user) return [];
    return user.members.map((slot) => this.ruleSet.bySlot[slot]?.id).filter((id): id is string => !!id);
  }

  /** Each rule's aggregate at `nowMs` for one user and one segment (the explain view). */
  explain(userId: string, segmentId: string, nowMs: number) {
    const seg = this.ruleSet.segments.get(segmentId);
    if (!seg) return null;
    const user = this.users.get(userId);
    const now = relSecond(nowMs);
    const cache = user ? new AggregateCache(user, this.ruleSet, now) : null;
    return {
      segmentId,
      version: seg.version,
      active: seg.active,
      member: user ? hasSlot(user.members, seg.slot) : false,
      rules: seg.rules.map((r) => {
        const value = cache ? cache.of(r.group) : 0;
        return {
          eventType: eventTypes[r.group.typeIdx]!,
          attribute: r.group.measure < 0 ? ("count" as const) : ("sum" as const),
          field: r.group.field,
          windowMinutes: r.group.windowMinutes,
          operator: r.operator,
          threshold: r.value,
          aggregate: value,
          holds: compare(value, r.operator, r.value),
        };
      }),
    };
  }

  // ---- internals -------------------------------------------------------------------------

  /** Timer entries are never removed in place; stale ones are dropped when they reach the top. */
  private dropSuperseded(): void {
    while (this.timers.size > 0) {
      const key = this.timers.peekKey();
      const user = this.users.get(this.timers.peek()!);
      if (user && user.due === key) return;
      this.timers.pop();
    }
  }

  /** Gets or creates the user and brings it to `now` (definitions, then time) before an event. */
  private prepare(userId: string, now: number, nowMs: number, out: Transition[]): UserState {
    let user = this.users.get(userId);
    if (!user) {
      const rs = this.ruleSet;
      user = { series: [], members: [...rs.zeroMembers], evalAt: now, generation: rs.generation, due: Infinity };
      this.users.set(userId, user);
      this.stats.users = this.users.size;
      for (const slot of user.members) this.emit(out, userId, slot, true, nowMs, "event");
      return user;
    }
    this.catchUp(userId, user, now, nowMs, out);
    return user;
  }

  /** Definitions first (at the last evaluation instant), then time up to `now`. */
  private catchUp(userId: string, user: UserState, now: number, nowMs: number, out: Transition[]): void {
    if (user.generation < this.ruleSet.generation) this.refreshUser(userId, user, nowMs, out);
    this.timeSteps(userId, user, now, out);
    if (now > user.evalAt) user.evalAt = now;
  }

  private refreshUser(userId: string, user: UserState, nowMs: number, out: Transition[]): void {
    const rs = this.ruleSet;
    const changed = this.definitions.changedSince(user.generation);
    user.generation = rs.generation;
    const cache = new AggregateCache(user, rs, user.evalAt);
    const causes = new Map<number, Transition["cause"]>();
    const candidates = new Set<CompiledSegment>();
    for (const [slot, cause] of changed) {
      const seg = rs.bySlot[slot];
      if (seg) candidates.add(seg);
      causes.set(slot, cause);
      if (!seg && hasSlot(user.members, slot)) setSlot(user.members, slot, false);
    }
    this.evaluate(userId, user, candidates, cache, nowMs, out, (slot) => causes.get(slot) ?? "definition");
    user.due = this.computeDue(user, user.evalAt);
  }

  /**
   * Time-driven steps: from `evalAt` through each due instant up to `until`, visiting only the
   * rules crossed by departures and arrivals. Transitions carry their due instant.
   */
  private timeSteps(userId: string, user: UserState, until: number, out: Transition[]): void {
    const rs = this.ruleSet;
    for (let guard = 0; user.due <= until && guard < 100_000; guard++) {
      const at = Math.max(user.due, user.evalAt);
      const before = new AggregateCache(user, rs, user.evalAt);
      const after = new AggregateCache(user, rs, at);
      const candidates = new Set<CompiledSegment>();
      for (let t = 0; t < rs.byType.length; t++) {
        if (!user.series[t]) continue;
        for (const m of rs.byType[t]!.measures) {
          for (const g of m.groups) {
            forEachFlipped(g, before.of(g), after.of(g), (r) => candidates.add(r.segment));
          }
        }
      }
      user.evalAt = at;
      this.evaluate(userId, user, candidates, after, toEpochMs(at), out, () => "time");
      user.due = this.computeDue(user, at);
      if (user.due <= at) user.due = at + 1;
    }
  }

  private computeDue(user: UserState, at: number): number {
    let due = Infinity;
    for (let t = 0; t < user.series.length; t++) if (user.series[t]) due = Math.min(due, this.dueOfType(user, t, at));
    return due;
  }

  private applyToUser(event: EngineEvent, user: UserState, sec: number, now: number, nowMs: number, out: Transition[]): void {
    const rs = this.ruleSet;
    const typeIdx = typeIndex(event.eventType);
    const fields = rs.fields[typeIdx]!;
    const sums = fields.map((f) => fieldValue(event.attributes, f));
    const old = user.series[typeIdx];
    const tg = rs.byType[typeIdx]!;
    const after = new AggregateCache(user, rs, now);
    const candidates = new Set<CompiledSegment>();
    // Aggregates before, per measure, then the delta of this one event.
    const t = now - sec >= SECOND_PRECISION_S ? (Math.floor(sec / 60) * 60) * 2 + 1 : sec * 2;
    for (const m of tg.measures) {
      const values = new Array<number>(m.windows.length);
      aggregate(old, m.measure, m.windows, now, values);
      const delta = m.measure < 0 ? 1 : (sums[m.measure] ?? 0);
      const next = values.slice();
      if (delta !== 0) {
        for (let w = 0; w < m.windows.length; w++) if (inWindow(t, now, m.windows[w]!)) next[w]! += delta;
      }
      for (let w = 0; w < m.groups.length; w++) {
        forEachFlipped(m.groups[w]!, values[w]!, next[w]!, (r) => candidates.add(r.segment));
      }
      after.set(typeIdx, m.measure, next);
    }
    user.series[typeIdx] = addEvent(old ?? newSeries(fields.length), sec, sums, now);
    if (now > user.evalAt) user.evalAt = now;
    if (candidates.size > 0) this.evaluate(event.userId, user, candidates, after, nowMs, out, () => "event");
    // This type's due may have moved earlier (e.g. a future event, or a new departure).
    user.due = Math.min(user.due, this.dueOfType(user, typeIdx, now));
  }

  /**
   * Re-evaluates candidate segments (independent ones by their rules), then every derived
   * segment downstream of a change, in dependency order.
   */
  private evaluate(
    userId: string,
    user: UserState,
    candidates: Set<CompiledSegment>,
    cache: AggregateCache,
    nowMs: number,
    out: Transition[],
    causeOf: (slot: number) => Transition["cause"],
  ): void {
    if (candidates.size === 0) return;
    const aggregateOf = (r: CompiledRule) => cache.of(r.group);
    const isMember = (slot: number) => hasSlot(user.members, slot);
    const pending = [...candidates].sort((a, b) => a.topo - b.topo);
    const queued = new Set(pending);
    // A small worklist in topological order: changes only flow to dependents, later in order.
    for (let i = 0; i < pending.length; i++) {
      const seg = pending[i]!;
      const holds = segmentHolds(seg, aggregateOf, isMember);
      const was = isMember(seg.slot);
      if (holds === was) continue;
      setSlot(user.members, seg.slot, holds);
      this.emit(out, userId, seg.slot, holds, nowMs, causeOf(seg.slot));
      for (const dep of seg.dependents) {
        if (queued.has(dep)) continue;
        queued.add(dep);
        // Insert keeping topological order among the not-yet-visited tail.
        let j = pending.length;
        while (j > i + 1 && pending[j - 1]!.topo > dep.topo) j--;
        pending.splice(j, 0, dep);
      }
    }
  }

  private emit(out: Transition[], userId: string, slot: number, enter: boolean, at: number, cause: Transition["cause"]) {
    const seg = this.ruleSet.bySlot[slot];
    if (!seg) return;
    out.push({ userId, segmentId: seg.id, kind: enter ? "enter" : "exit", at, cause, version: seg.version });
  }

  /** Compacts, recomputes the due time when needed and (re)arms the user's timer if it moved. */
  private finish(userId: string, user: UserState, now: number, prevDue: number): void {
    for (let t = 0; t < user.series.length; t++) {
      const s = user.series[t];
      if (!s) continue;
      if (needsCompaction(s, now)) {
        const c = compact(s, now);
        user.series[t] = c.length > 1 ? c : undefined;
      }
    }
    if (user.due <= now) user.due = this.computeDue(user, now);
    if (user.due !== Infinity && user.due !== prevDue) this.timers.push(user.due, userId);
  }

  /** The first instant after `now` at which some rule on this type could change truth. */
  private dueOfType(user: UserState, typeIdx: number, now: number): number {
    const s = user.series[typeIdx];
    if (!s) return Infinity;
    let due = nextArrival(s, now);
    const tg = this.ruleSet.byType[typeIdx]!;
    const values: number[] = [];
    for (const m of tg.measures) {
      aggregate(s, m.measure, m.windows, now, values);
      for (let w = 0; w < m.groups.length; w++) {
        const g = m.groups[w]!;
        const start = values[w]!;
        // Counts only fall as events leave: no threshold between here and 0, no flip to wait for.
        if (m.measure < 0 && !anyThresholdIn(g, 0, start)) continue;
        let acc = start;
        let scanned = 0;
        forEachInWindow(s, g.windowMinutes, now, (t, value) => {
          const leaves = departureTime(t, g.windowMinutes);
          if (leaves >= due) return true;
          acc -= value(m.measure);
          if (anyFlip(g, start, acc) || ++scanned >= MAX_DUE_SCAN) {
            due = Math.min(due, leaves);
            return true;
          }
          return false;
        });
      }
    }
    return due;
  }

  // ---- checkpoints -----------------------------------------------------------------------

  /** The partition's state as plain data (memberships by segment id, sums by field name). */
  serialize(): PartitionSnapshot {
    const rs = this.ruleSet;
    const users: Record<string, SerializedUser> = {};
    const idOf = (slot: number) => rs.bySlot[slot]?.id;
    for (const [id, u] of this.users) {
      const su: SerializedUser = {
        s: u.series.map((x) => x ?? null),
        m: u.members.map(idOf).filter((x): x is string => !!x),
        e: u.evalAt,
      };
      if (u.generation < rs.generation) {
        su.p = [...this.definitions.changedSince(u.generation).keys()].map(idOf).filter((x): x is string => !!x);
      }
      users[id] = su;
    }
    const versions: Record<string, string> = {};
    for (const seg of rs.segments.values()) versions[seg.id] = versionKey(seg);
    return { fields: rs.fields.map((f) => [...f]), versions, users };
  }

  /**
   * Restores users from a checkpoint. Segments whose definition differs from the snapshot's, and
   * those a user had not caught up with, are recorded as a change, so the backfill converges
   * every restored user to the current definitions.
   */
  restore(snapshot: PartitionSnapshot): void {
    const rs = this.ruleSet;
    const generation = rs.generation;
    const changed = new Set<number>();
    for (const seg of rs.segments.values()) if (snapshot.versions[seg.id] !== versionKey(seg)) changed.add(seg.slot);
    // Columns of summed fields follow the snapshot's field order; map them to the current one.
    const remap = rs.fields.map((current, t) => {
      const old = snapshot.fields[t] ?? [];
      return current.length === old.length && current.every((f, i) => old[i] === f) ? null : current.map((f) => old.indexOf(f));
    });
    for (const [id, su] of Object.entries(snapshot.users)) {
      const members: number[] = [];
      for (const segId of su.m) {
        const seg = rs.segments.get(segId);
        if (seg) members.push(seg.slot);
      }
      members.sort((a, b) => a - b);
      const user: UserState = {
        series: su.s.map((x, t) => (x && x.length > 1 ? remapSeries(x, remap[t] ?? null) : undefined)),
        members,
        evalAt: su.e,
        generation,
        due: 0,
      };
      this.users.set(id, user);
      for (const segId of su.p ?? []) {
        const seg = rs.segments.get(segId);
        if (seg) changed.add(seg.slot);
      }
      this.clock = Math.max(this.clock, su.e);
      this.finish(id, user, su.e, Infinity);
    }
    this.stats.users = this.users.size;
    if (changed.size > 0) {
      this.definitions.install(
        { ...rs, generation: generation + 1 },
        [...changed].map((slot) => ({ slot, cause: causeOfState(rs.bySlot[slot]!) })),
      );
    }
  }
}
