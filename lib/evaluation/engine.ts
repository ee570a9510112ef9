/**
 * The segment engine for one partition of users: event-time sliding windows, rule evaluation,
 * time-driven transitions and definition changes. Pure and synchronous: time is a parameter,
 * no I/O. The worker wires it to the event log, the membership store and a timer.
 *
 * Invariant: after a user's step at `evalAt`, `members` is exactly the set of active segments
 * whose definition (rule-set generation `generation`) holds at `evalAt`, and no rule the user is
 * subject to changes truth before `due`. Every step keeps it, so each step only visits the rules
 * whose truth can have changed.
 *
 * Hot path (see BENCHMARKS.md): a step allocates nothing but its transitions and the user's new
 * arrays. Aggregates, window bounds and candidate marks live in per-engine typed arrays indexed by
 * group and slot (stamped per step instead of cleared); flipped rules are found through the
 * groups' sorted thresholds and checked through the rule set's flat arrays (`RuleSet.flat`); a
 * rule that became false settles its segment without evaluating it. Timers are bucketed by
 * second. Window series and membership lists are exact-size arrays (membership lists are
 * copy-on-write, so a new user shares the rule set's zero-event list).
 */
import { compare, eventTypes, type EventType } from "@/lib/segments/definition";
import { TimerQueue } from "./heap";
import {
  anyThresholdIn,
  EXPR_AND,
  EXPR_NOT,
  EXPR_REF,
  KIND_DERIVED,
  KIND_INDEPENDENT,
  compareOp,
  lowerBound,
  typeIndex,
  type CompiledSegment,
  type RuleGroup,
  type RuleSet,
} from "./ruleset";
import { NO_MEMBERS, hasMember, memberAt, membersToArray, toMembers, withoutMember, type Members } from "./members";
import { numeric } from "./values";
import {
  COUNT_SPAN,
  HEADER,
  HORIZON_S,
  SECOND_PRECISION_S,
  addEvent,
  aggregateInto,
  compact,
  compactionTime,
  departureTime,
  fromSnapshot,
  inWindow,
  keySec,
  keyT,
  lastAdd,
  needsCompaction,
  newSeries,
  nextArrival,
  relSecond,
  toEpochMs,
  toSnapshot,
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

/**
 * "No such instant": due and expiry instants are relative seconds kept as small integers (so V8
 * stores them in the object, not as boxed doubles). 2^30 - 1 seconds after EPOCH_BASE_S is 2057.
 */
export const NEVER = 0x3fffffff;

if (eventTypes.length !== 4) throw new Error("UserState has one series field per event type: update it with eventTypes");

/**
 * One user's state. A class with a fixed set of fields, all of them pointers or small integers,
 * so every user shares one hidden class and nothing is boxed: the series of each event type and
 * its due instant are fields (`s0…s3`, `d0…d3`, in `eventTypes` order) rather than arrays, one
 * indirection and ~90 bytes less per user than an array of series and boxed `Infinity`s.
 */
export class UserState {
  /** Window buckets per event type (see window.ts); undefined: no event of that type retained. */
  s0: Series | undefined = undefined;
  s1: Series | undefined = undefined;
  s2: Series | undefined = undefined;
  s3: Series | undefined = undefined;
  /** Per event type: the first instant after `evalAt` at which a rule on it can change truth (or an earlier one to look again; NEVER: none). */
  d0 = NEVER;
  d1 = NEVER;
  d2 = NEVER;
  d3 = NEVER;
  /** Relative second of the next possible time-driven change: the earliest `d*` (NEVER: none). */
  due = NEVER;
  /**
   * Relative second of the armed housekeeping check (NEVER: none): by then the newest bucket
   * of some series will have left the 24 h horizon, and the state is compacted even if nothing
   * else touches the user.
   */
  expiry = NEVER;
  /** The first instant at which some series needs compacting (see `compactionTime`; NEVER: none). */
  compactAt = NEVER;

  constructor(
    /** The user id (the key of `PartitionEngine.users`). */
    readonly id: string,
    /** Slots of the segments the user is in, ascending. Copy-on-write: replaced, never mutated. */
    public members: Members,
    /** Relative second of the last evaluation. */
    public evalAt: number,
    /** Rule-set generation the memberships are consistent with. */
    public generation: number,
  ) {}

  /** The series of event type `t` (its index in `eventTypes`). */
  seriesAt(t: number): Series | undefined {
    switch (t) {
      case 0:
        return this.s0;
      case 1:
        return this.s1;
      case 2:
        return this.s2;
      default:
        return this.s3;
    }
  }

  setSeries(t: number, s: Series | undefined): void {
    switch (t) {
      case 0:
        this.s0 = s;
        return;
      case 1:
        this.s1 = s;
        return;
      case 2:
        this.s2 = s;
        return;
      default:
        this.s3 = s;
    }
  }

  dueAt(t: number): number {
    switch (t) {
      case 0:
        return this.d0;
      case 1:
        return this.d1;
      case 2:
        return this.d2;
      default:
        return this.d3;
    }
  }

  setDue(t: number, due: number): void {
    switch (t) {
      case 0:
        this.d0 = due;
        return;
      case 1:
        this.d1 = due;
        return;
      case 2:
        this.d2 = due;
        return;
      default:
        this.d3 = due;
    }
  }

  /** The earliest due instant of the series the user has. */
  earliestDue(): number {
    let due = NEVER;
    if (this.s0 && this.d0 < due) due = this.d0;
    if (this.s1 && this.d1 < due) due = this.d1;
    if (this.s2 && this.d2 < due) due = this.d2;
    if (this.s3 && this.d3 < due) due = this.d3;
    return due;
  }

  /** The series by event type index, as an array (for reading; not on hot paths). */
  get series(): (Series | undefined)[] {
    return [this.s0, this.s1, this.s2, this.s3];
  }
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

/**
 * A due scan follows at most this many departing buckets per group; past that it wakes up at the
 * last one scanned and looks again (an early, harmless check instead of an unbounded scan).
 */
const MAX_DUE_SCAN = 64;
/** `computeDue`: recompute the due of every event type from scratch. */
const ALL_TYPES = -1;
const TYPES = eventTypes.length;
const HORIZON_MINUTES = HORIZON_S / 60;


let addScratch = new Int32Array(64);

/** Sorts `a[0 … n-1]` in place: insertion sort for the usual few elements, no view allocated. */
function sortPrefix(a: Int32Array, n: number): Int32Array {
  if (n > 32) {
    a.subarray(0, n).sort();
    return a;
  }
  for (let i = 1; i < n; i++) {
    const x = a[i]!;
    let j = i - 1;
    while (j >= 0 && a[j]! > x) {
      a[j + 1] = a[j]!;
      j--;
    }
    a[j + 1] = x;
  }
  return a;
}

let mergeScratch = new Int32Array(256);

/**
 * A membership list with a step's changes applied (`slots`, each to `value[slot]`, every one a
 * real change; `changed[slot] === stamp` marks them). Lists are immutable (see members.ts): one
 * sequential merge of the old list, minus the removed slots, with the sorted additions.
 */
function applyChanges(members: Members, slots: number[], value: Uint8Array, changed: Int32Array, stamp: number): Members {
  const n = slots.length;
  if (addScratch.length < n) addScratch = new Int32Array(Math.max(n, addScratch.length * 2));
  let nAdd = 0;
  for (let k = 0; k < n; k++) {
    const slot = slots[k]!;
    if (value[slot] === 1) addScratch[nAdd++] = slot;
  }
  const nRemove = n - nAdd;
  const len = members.length - nRemove + nAdd;
  if (len === 0) return NO_MEMBERS;
  const adds = sortPrefix(addScratch, nAdd);
  if (mergeScratch.length < len) mergeScratch = new Int32Array(Math.max(len, mergeScratch.length * 2));
  const out = mergeScratch;
  let w = 0;
  let j = 0;
  for (let i = 0; i < members.length; i++) {
    const m = memberAt(members, i);
    if (changed[m] === stamp && value[m] === 0) continue; // removed
    while (j < nAdd && adds[j]! < m) out[w++] = adds[j++]!;
    if (j < nAdd && adds[j] === m) j++; // already a member (never, by construction)
    out[w++] = m;
  }
  while (j < nAdd) out[w++] = adds[j++]!;
  return toMembers(out, w);
}

/** The value of a tracked field (a name, or the parts of a dotted path); missing or non-numeric: 0. */
function extract(attributes: Record<string, unknown>, path: string | string[]): number {
  if (typeof path === "string") return numeric(attributes[path]);
  let cur: unknown = attributes;
  for (let i = 0; i < path.length; i++) {
    if (cur === null || typeof cur !== "object") return 0;
    cur = (cur as Record<string, unknown>)[path[i]!];
  }
  return numeric(cur);
}

export interface EngineStats {
  users: number;
  eventsApplied: number;
  eventsDroppedLate: number;
  timerFires: number;
  transitions: number;
  /** Rules whose truth a step re-checked because their aggregate crossed the threshold. */
  ruleVisits: number;
}

export interface PartitionSnapshot {
  /** Tracked sum fields per event type when the snapshot was taken. */
  fields: string[][];
  /** Segment id → "version:active" of the definitions the memberships are consistent with. */
  versions: Record<string, string>;
  users: Record<string, SerializedUser>;
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
  /** The partition's users, for reading: remove one with `eraseUser` (its timers must go too). */
  readonly users = new Map<string, UserState>();
  private readonly timers = new TimerQueue<UserState>();
  /** Housekeeping checks (`UserState.expiry`): memory only, invisible to `nextDueMs`. */
  private readonly expiries = new TimerQueue<UserState>();
  readonly stats: EngineStats = { users: 0, eventsApplied: 0, eventsDroppedLate: 0, timerFires: 0, transitions: 0, ruleVisits: 0 };

  /** The latest evaluation instant seen (relative seconds): time never runs backwards here. */
  private clock = -Infinity;

  // Scratch space for one step of one user, sized for the current rule set (see `scratch`).
  private scratchFor: RuleSet | null = null;
  /** Aggregates at the step's instant and at the previous evaluation, by group index. */
  private aggNow = new Float64Array(0);
  private aggPrev = new Float64Array(0);
  /** Oldest in-window bucket per group at the step's instant (see `aggregateInto`). */
  private bounds = new Int32Array(0);
  /** `blockStamp[b] === stamp`: block b's `aggNow` (and `bounds`) are current for this step. */
  private blockStamp = new Int32Array(0);
  /** `marks[slot] === stamp`: the segment is already a candidate in this step. */
  private marks = new Int32Array(0);
  private stamp = 0;
  /** The user and instant `aggNow` is computed for. */
  private ctxUser: UserState | null = null;
  private ctxAt = 0;
  /** Slots of this step's candidate segments. */
  private readonly candidates: number[] = [];
  /** `falseStamp[slot] === stamp`: one of the segment's rules became false in this step. */
  private falseStamp = new Int32Array(0);
  /** `memberStamp[slot] === stamp`: the user was a member before this step (when expanded). */
  private memberStamp = new Int32Array(0);
  private membersExpanded = false;
  /** Slots of derived segments waiting for evaluation, a min-heap on `flat.topo`. */
  private derivedHeap = new Int32Array(64);
  private derivedCount = 0;
  /** Operand stack of `evalProgram`. */
  private exprStack = new Uint8Array(16);
  /** `inWin[g]`: the step's event is inside group g's window (applyToUser). */
  private inWin = new Uint8Array(0);
  /** Slots whose membership this step changed; `stateVal[slot]` is the new membership. */
  private readonly changes: number[] = [];
  private stateStamp = new Int32Array(0);
  private stateVal = new Uint8Array(0);
  private readonly sums: number[] = [];
  /** The rule set's zero-event list as a `Members` list, shared by every new user. */
  private zeroList: Members = NO_MEMBERS;
  private zeroFor: RuleSet | null = null;

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
    let user = this.users.get(event.userId);
    const isNew = user === undefined;
    const prevDue = user ? user.due : NEVER;
    user = this.prepare(event.userId, user, now, nowMs, out);
    this.applyToUser(event, user, sec, now, nowMs, out);
    this.stats.eventsApplied++;
    this.finish(user, now, prevDue);
    // A new user's zero-event memberships and its first event's effect are one change.
    if (isNew && out.length > 1) out = netOut(out);
    this.stats.transitions += out.length;
    return out;
  }

  /** Makes a user known without an event (e.g. a profile was created): zero-event rules apply. */
  touchUser(userId: string, nowMs: number): Transition[] {
    const out: Transition[] = [];
    const now = this.nowOf(nowMs);
    const existing = this.users.get(userId);
    const prevDue = existing ? existing.due : NEVER;
    const user = this.prepare(userId, existing, now, nowMs, out);
    this.finish(user, now, prevDue);
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
    for (let due = this.timers.peekKey(); due <= now; due = this.timers.peekKey()) {
      const bucket = this.timers.first();
      // Firing never re-arms at or before `due`, so the bucket does not grow while walked.
      for (let i = 0; i < bucket.length; i++) {
        const user = bucket[i]!;
        if (user.due !== due) continue; // superseded entry (or an erased user)
        this.stats.timerFires++;
        this.clock = Math.max(this.clock, due);
        if (user.generation < this.ruleSet.generation) this.refreshUser(user, toEpochMs(user.evalAt), out);
        this.timeSteps(user, due, out);
        this.finish(user, user.evalAt, NEVER);
      }
      this.timers.dropFirst();
    }
    this.housekeep(now);
    this.stats.transitions += out.length;
    return out;
  }

  /**
   * Compacts the state of users whose newest bucket left the horizon (quiet users), at their
   * expiry instant. Runs after the rule timers up to `now`, so every such user's `due` is later:
   * its memberships hold at the expiry instant and compaction changes no aggregate from then on.
   * No transition can result.
   */
  private housekeep(now: number): void {
    const gen = this.ruleSet.generation;
    for (let key = this.expiries.peekKey(); key <= now; key = this.expiries.peekKey()) {
      const bucket = this.expiries.first();
      for (let i = 0; i < bucket.length; i++) {
        const user = bucket[i]!;
        if (user.expiry !== key) continue; // erased, or re-armed
        user.expiry = NEVER;
        if (user.generation < gen || user.due <= key) {
          // The backfill or a rule timer comes first; look again later.
          user.expiry = key + 3600;
          this.expiries.push(user.expiry, user);
          continue;
        }
        this.clock = Math.max(this.clock, key);
        if (key > user.evalAt) user.evalAt = key;
        this.finish(user, key, user.due);
      }
      this.expiries.dropFirst();
    }
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
    for (const user of this.users.values()) {
      if (user.generation >= gen) continue;
      if (done >= limit) {
        remaining++;
        continue;
      }
      const prevDue = user.due;
      this.catchUp(user, now, nowMs, out);
      this.finish(user, now, prevDue);
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
    for (let i = 0; i < user.members.length; i++) this.emit(out, user, memberAt(user.members, i), false, nowMs, "erased");
    this.forget(user);
    this.stats.users = this.users.size;
    this.stats.transitions += out.length;
    return out;
  }

  /** Segment ids the user is in (after catching up with definitions and time at `nowMs`). */
  segmentsOf(userId: string): string[] {
    const user = this.users.get(userId);
    if (!user) return [];
    return membersToArray(user.members)
      .map((slot) => this.ruleSet.bySlot[slot]?.id)
      .filter((id): id is string => !!id);
  }

  /** Each rule's aggregate at `nowMs` for one user and one segment (the explain view). */
  explain(userId: string, segmentId: string, nowMs: number) {
    const seg = this.ruleSet.segments.get(segmentId);
    if (!seg) return null;
    const user = this.users.get(userId);
    const now = relSecond(nowMs);
    if (user) this.begin(user, now);
    return {
      segmentId,
      version: seg.version,
      active: seg.active,
      member: user ? hasMember(user.members, seg.slot) : false,
      rules: seg.rules.map((r) => {
        const value = user ? this.aggOf(r.group) : 0;
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

  /** Removes a user; its queued timer entries become stale. */
  private forget(user: UserState): void {
    this.users.delete(user.id);
    user.due = -1; // matches no queued timer entry
    user.expiry = -1;
  }

  /** Timer entries are never removed in place; stale ones are dropped when they reach the top. */
  private dropSuperseded(): void {
    while (this.timers.size > 0) {
      const key = this.timers.peekKey();
      const bucket = this.timers.first();
      let live = 0;
      for (let i = 0; i < bucket.length; i++) if (bucket[i]!.due === key) bucket[live++] = bucket[i]!;
      bucket.length = live;
      if (live > 0) return;
      this.timers.dropFirst();
    }
  }

  /** Gets or creates the user and brings it to `now` (definitions, then time) before an event. */
  private prepare(userId: string, user: UserState | undefined, now: number, nowMs: number, out: Transition[]): UserState {
    if (!user) {
      const rs = this.ruleSet;
      // The membership list is shared until the first change: lists are copy-on-write.
      user = new UserState(userId, this.zeroMembers(), now, rs.generation);
      this.users.set(userId, user);
      this.stats.users = this.users.size;
      for (let i = 0; i < user.members.length; i++) this.emit(out, user, memberAt(user.members, i), true, nowMs, "event");
      return user;
    }
    this.catchUp(user, now, nowMs, out);
    return user;
  }

  /** Definitions first (at the last evaluation instant), then time up to `now`. */
  private catchUp(user: UserState, now: number, nowMs: number, out: Transition[]): void {
    if (user.generation < this.ruleSet.generation) this.refreshUser(user, nowMs, out);
    if (user.due <= now) this.timeSteps(user, now, out);
    if (now > user.evalAt) user.evalAt = now;
  }

  private refreshUser(user: UserState, nowMs: number, out: Transition[]): void {
    const rs = this.ruleSet;
    const changed = this.definitions.changedSince(user.generation);
    user.generation = rs.generation;
    this.begin(user, user.evalAt);
    for (const slot of changed.keys()) {
      const seg = rs.bySlot[slot];
      if (seg) this.addCandidate(seg.slot);
      else user.members = withoutMember(user.members, slot);
    }
    this.evaluate(user, nowMs, out, "definition", changed);
    user.due = this.computeDue(user, user.evalAt, ALL_TYPES);
  }

  /**
   * Time-driven steps: from `evalAt` through each due instant up to `until`, visiting only the
   * rules crossed by departures and arrivals. Transitions carry their due instant. A group's
   * aggregate at the previous instant is the current one plus what departed and minus what
   * arrived in between (a few buckets next to the window's edges), not a second pass.
   */
  private timeSteps(user: UserState, until: number, out: Transition[]): void {
    const rs = this.scratch();
    for (let guard = 0; user.due <= until && guard < 100_000; guard++) {
      const at = Math.max(user.due, user.evalAt);
      const prev = user.evalAt;
      this.begin(user, at);
      const { aggNow, bounds, blockStamp } = this;
      let stepped = 0;
      for (let t = 0; t < rs.byType.length; t++) {
        const s = user.seriesAt(t);
        // A type whose own due is later has no rule that can change truth by `at`.
        if (!s || user.dueAt(t) > at) continue;
        stepped |= 1 << t;
        const stride = s[0]!;
        let newest = s.length - stride; // newest bucket not in the future at `at`
        while (newest >= HEADER && keySec(s[newest]!) > at) newest -= stride;
        const measures = rs.byType[t]!.measures;
        for (let k = 0; k < measures.length; k++) {
          const m = measures[k]!;
          aggregateInto(s, m.measure, m.windows, at, aggNow, bounds, m.offset);
          blockStamp[m.block] = this.stamp;
          const col = 1 + m.measure;
          if (m.measure >= 0 && col >= stride) continue; // a column this series lacks: all 0
          for (let w = 0; w < m.groups.length; w++) {
            const windowMinutes = m.windows[w]!;
            const b = bounds[m.offset + w]!;
            const now = aggNow[m.offset + w]!;
            let before = now;
            // Departed since `prev`: just older than the window's oldest bucket.
            for (let i = b < 0 ? newest : b - stride; i >= HEADER; i -= stride) {
              const key = s[i]!;
              const bt = keyT(key);
              if (departureTime(bt, windowMinutes) <= prev) break;
              if (Math.floor(bt / 2) <= prev) before += m.measure < 0 ? key - bt * COUNT_SPAN : s[i + col]!;
            }
            // Arrived since `prev` (future-stamped events whose time came): the newest buckets.
            if (b >= 0) {
              for (let i = newest; i >= b; i -= stride) {
                const key = s[i]!;
                const bt = keyT(key);
                if (Math.floor(bt / 2) <= prev) break;
                before -= m.measure < 0 ? key - bt * COUNT_SPAN : s[i + col]!;
              }
            }
            if (before !== now) this.collectFlipped(m.groups[w]!, before, now);
          }
        }
      }
      user.evalAt = at;
      this.evaluate(user, toEpochMs(at), out, "time", null);
      user.due = this.computeDue(user, at, stepped);
      if (user.due <= at) user.due = at + 1;
    }
  }

  /**
   * The first instant after `at` at which some rule could change truth: the earliest due of the
   * user's series. `fresh`: a bit per event type whose due is recomputed from this step's
   * aggregates and bounds at `at` (already computed); the others keep theirs, except with
   * `ALL_TYPES`, which recomputes every type from scratch.
   */
  private computeDue(user: UserState, at: number, fresh: number): number {
    for (let t = 0; t < TYPES; t++) {
      const s = user.seriesAt(t);
      if (!s) continue;
      if (fresh === ALL_TYPES) user.setDue(t, this.dueOfType(s, t, at, false));
      else if ((fresh >> t) & 1) user.setDue(t, this.dueOfType(s, t, at, true));
    }
    return user.earliestDue();
  }

  private applyToUser(event: EngineEvent, user: UserState, sec: number, now: number, nowMs: number, out: Transition[]): void {
    const rs = this.scratch();
    const typeIdx = typeIndex(event.eventType);
    const paths = rs.fieldPaths[typeIdx]!;
    const nSums = paths.length;
    const sums = this.sums;
    for (let k = 0; k < nSums; k++) sums[k] = extract(event.attributes, paths[k]!);
    const old = user.seriesAt(typeIdx);
    const measures = rs.byType[typeIdx]!.measures;
    this.begin(user, now);
    const { aggNow, aggPrev, bounds, blockStamp, inWin } = this;
    // Aggregates before, per measure, then the delta of this one event.
    const t = now - sec >= SECOND_PRECISION_S ? (Math.floor(sec / 60) * 60) * 2 + 1 : sec * 2;
    for (let k = 0; k < measures.length; k++) {
      const m = measures[k]!;
      aggregateInto(old, m.measure, m.windows, now, aggPrev, bounds, m.offset);
      const delta = m.measure < 0 ? 1 : (m.measure < nSums ? sums[m.measure]! : 0);
      for (let w = 0; w < m.groups.length; w++) {
        const g = m.offset + w;
        const before = aggPrev[g]!;
        const inside = inWindow(t, now, m.windows[w]!);
        inWin[g] = inside ? 1 : 0;
        const after = delta !== 0 && inside ? before + delta : before;
        aggNow[g] = after;
        if (after !== before) this.collectFlipped(m.groups[w]!, before, after);
      }
      blockStamp[m.block] = this.stamp;
    }
    const s = addEvent(old ?? newSeries(), sec, sums, now, nSums);
    user.setSeries(typeIdx, s);
    const compactAt = compactionTime(s);
    if (compactAt < user.compactAt) user.compactAt = compactAt;
    // The window bounds after the insertion, from those before (unless every index moved).
    const fresh = !lastAdd.widened;
    if (fresh && lastAdd.inserted) {
      const at = lastAdd.index;
      const stride = s[0]!;
      for (let k = 0; k < measures.length; k++) {
        const m = measures[k]!;
        for (let g = m.offset; g < m.offset + m.groups.length; g++) {
          const b = bounds[g]!;
          if (inWin[g] === 1) {
            if (b < 0 || at <= b) bounds[g] = at;
          } else if (b >= 0 && at <= b) {
            bounds[g] = b + stride;
          }
        }
      }
    }
    if (now > user.evalAt) user.evalAt = now;
    if (this.candidates.length > 0) this.evaluate(user, nowMs, out, "event", null);
    // Only this type's due can have moved (e.g. a future event, or a new departure).
    user.setDue(typeIdx, this.dueOfType(s, typeIdx, now, fresh));
    user.due = user.earliestDue();
  }

  private zeroMembers(): Members {
    const rs = this.ruleSet;
    if (this.zeroFor !== rs) {
      this.zeroFor = rs;
      this.zeroList = toMembers(rs.zeroMembers, rs.zeroMembers.length);
    }
    return this.zeroList;
  }

  /** Sizes the scratch arrays for the current rule set. */
  private scratch(): RuleSet {
    const rs = this.ruleSet;
    if (this.scratchFor === rs) return rs;
    this.scratchFor = rs;
    this.aggNow = new Float64Array(rs.groupCount);
    this.aggPrev = new Float64Array(rs.groupCount);
    this.bounds = new Int32Array(rs.groupCount);
    this.blockStamp = new Int32Array(rs.blocks.length);
    this.marks = new Int32Array(rs.nextSlot);
    this.stateStamp = new Int32Array(rs.nextSlot);
    this.falseStamp = new Int32Array(rs.nextSlot);
    this.memberStamp = new Int32Array(rs.nextSlot);
    this.stateVal = new Uint8Array(rs.nextSlot);
    this.inWin = new Uint8Array(rs.groupCount);
    let longest = 1;
    const start = rs.flat.exprStart;
    for (let slot = 0; slot < rs.nextSlot; slot++) longest = Math.max(longest, start[slot + 1]! - start[slot]!);
    if (this.exprStack.length < longest) this.exprStack = new Uint8Array(longest);
    if (this.derivedHeap.length < rs.nextSlot) this.derivedHeap = new Int32Array(rs.nextSlot);
    this.derivedCount = 0;
    this.stamp = 0;
    return rs;
  }

  /** Starts a step for `user` at instant `at`: no aggregate computed, no candidate yet. */
  private begin(user: UserState, at: number): void {
    this.scratch();
    if (++this.stamp >= 0x3fffffff) {
      this.stamp = 1;
      this.blockStamp.fill(0);
      this.marks.fill(0);
      this.stateStamp.fill(0);
      this.falseStamp.fill(0);
      this.memberStamp.fill(0);
    }
    this.ctxUser = user;
    this.ctxAt = at;
    this.candidates.length = 0;
    this.membersExpanded = false;
  }

  /** The aggregate of a group for the step's user at the step's instant. */
  private aggOf(group: RuleGroup): number {
    return this.aggAt(group.index);
  }

  /** The aggregate of group `g` (its index) for the step's user at the step's instant. */
  private aggAt(g: number): number {
    const block = this.ruleSet.flat.groupBlock[g]!;
    if (this.blockStamp[block] !== this.stamp) {
      const m = this.ruleSet.blocks[block]!;
      aggregateInto(this.ctxUser!.seriesAt(m.typeIdx), m.measure, m.windows, this.ctxAt, this.aggNow, this.bounds, m.offset);
      this.blockStamp[block] = this.stamp;
    }
    return this.aggNow[g]!;
  }

  private addCandidate(slot: number): void {
    if (this.marks[slot] === this.stamp) return;
    this.marks[slot] = this.stamp;
    this.candidates.push(slot);
  }

  /** A rule of segment `slot` flipped; its truth at the new aggregate `b` is `compare(b, op, value)`. */
  private flipped(slot: number, op: number, value: number, b: number): void {
    this.stats.ruleVisits++;
    if (!compareOp(b, op, value)) this.falseStamp[slot] = this.stamp;
    this.addCandidate(slot);
  }

  /** Adds the segments of every rule of the group whose truth differs between aggregates a and b. */
  private collectFlipped(group: RuleGroup, a: number, b: number): void {
    const lo = a < b ? a : b;
    const hi = a < b ? b : a;
    const lc = group.lowerClosed;
    const lv = lc.values;
    for (let i = lowerBound(lv, lo, false); i < lv.length && lv[i]! < hi; i++) this.flipped(lc.slots[i]!, lc.ops[i]!, lv[i]!, b);
    const uc = group.upperClosed;
    const uv = uc.values;
    for (let i = lowerBound(uv, lo, true); i < uv.length && uv[i]! <= hi; i++) this.flipped(uc.slots[i]!, uc.ops[i]!, uv[i]!, b);
    if (group.points.size > 0) {
      const pa = group.points.get(a);
      if (pa) for (const r of pa) this.flipped(r.segment.slot, r.op, r.value, b);
      const pb = group.points.get(b);
      if (pb) for (const r of pb) this.flipped(r.segment.slot, r.op, r.value, b);
    }
  }

  /** Membership of `slot` during the step: this step's decisions first, then the stored list. */
  private isMember(slot: number, members: Members): boolean {
    if (this.stateStamp[slot] === this.stamp) return this.stateVal[slot] === 1;
    return this.membersExpanded ? this.memberStamp[slot] === this.stamp : hasMember(members, slot);
  }

  /** A derived segment's expression (`flat.program`) over the step's memberships. */
  private evalProgram(slot: number, members: Members): boolean {
    const flat = this.ruleSet.flat;
    const program = flat.program;
    const stack = this.exprStack;
    let sp = 0;
    for (let pc = flat.exprStart[slot]!, end = flat.exprStart[slot + 1]!; pc < end; pc++) {
      const code = program[pc]!;
      const op = code & 3;
      if (op === EXPR_REF) {
        const ref = code >> 2;
        stack[sp++] = ref >= 0 && this.isMember(ref, members) ? 1 : 0;
      } else if (op === EXPR_NOT) {
        stack[sp - 1]! ^= 1;
      } else {
        const n = code >> 2;
        let v = op === EXPR_AND ? 1 : 0;
        for (let j = sp - n; j < sp; j++) v = op === EXPR_AND ? v & stack[j]! : v | stack[j]!;
        sp -= n;
        stack[sp++] = v;
      }
    }
    return sp === 1 && stack[0] === 1;
  }

  private pushDerived(slot: number): void {
    const heap = this.derivedHeap;
    const topo = this.ruleSet.flat.topo;
    const key = topo[slot]!;
    let i = this.derivedCount++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (topo[heap[parent]!]! <= key) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = slot;
  }

  private popDerived(): number {
    const heap = this.derivedHeap;
    const topo = this.ruleSet.flat.topo;
    const top = heap[0]!;
    const n = --this.derivedCount;
    if (n > 0) {
      const last = heap[n]!;
      const key = topo[last]!;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && topo[heap[r]!]! < topo[heap[l]!]! ? r : l;
        if (topo[heap[c]!]! >= key) break;
        heap[i] = heap[c]!;
        i = c;
      }
      heap[i] = last;
    }
    return top;
  }

  /** Whether the independent segment in `slot` holds: every rule, from the flat arrays. */
  private holdsIndependent(slot: number): boolean {
    const flat = this.ruleSet.flat;
    const end = flat.ruleStart[slot + 1]!;
    let i = flat.ruleStart[slot]!;
    if (i === end) return false;
    for (; i < end; i++) if (!compareOp(this.aggAt(flat.ruleGroup[i]!), flat.ruleOp[i]!, flat.ruleValue[i]!)) return false;
    return true;
  }

  /**
   * Re-evaluates the step's candidate segments, then every derived segment downstream of a
   * change, in dependency order: independent segments read no membership, so they go first in
   * any order; derived ones leave a small heap keyed by topological position, so each is
   * evaluated after everything it references. Membership changes are collected and merged into
   * the user's sorted list once, at the end.
   */
  private evaluate(
    user: UserState,
    nowMs: number,
    out: Transition[],
    cause: Transition["cause"],
    causes: Map<number, Transition["cause"]> | null,
  ): void {
    const candidates = this.candidates;
    if (candidates.length === 0) return;
    const members = user.members;
    if (candidates.length >= 8 && candidates.length * 8 >= members.length) {
      // Many lookups: one pass over the list beats a binary search each.
      for (let i = 0; i < members.length; i++) this.memberStamp[memberAt(members, i)] = this.stamp;
      this.membersExpanded = true;
    }
    const kind = this.ruleSet.flat.kind;
    for (let i = 0; i < candidates.length; i++) {
      const slot = candidates[i]!;
      if (kind[slot] === KIND_DERIVED) {
        this.pushDerived(slot);
        continue;
      }
      const holds = kind[slot] === KIND_INDEPENDENT && this.falseStamp[slot] !== this.stamp && this.holdsIndependent(slot);
      if (holds !== this.isMember(slot, members)) this.change(slot, holds, user, nowMs, out, cause, causes);
    }
    while (this.derivedCount > 0) {
      const slot = this.popDerived();
      const holds = kind[slot] === KIND_DERIVED && this.evalProgram(slot, members);
      if (holds !== this.isMember(slot, members)) this.change(slot, holds, user, nowMs, out, cause, causes);
    }
    candidates.length = 0;
    const changes = this.changes;
    if (changes.length > 0) {
      user.members = applyChanges(members, changes, this.stateVal, this.stateStamp, this.stamp);
      changes.length = 0;
    }
  }

  /** Records a membership change, emits it and queues the derived segments that reference it. */
  private change(
    slot: number,
    holds: boolean,
    user: UserState,
    nowMs: number,
    out: Transition[],
    cause: Transition["cause"],
    causes: Map<number, Transition["cause"]> | null,
  ): void {
    this.stateStamp[slot] = this.stamp;
    this.stateVal[slot] = holds ? 1 : 0;
    this.changes.push(slot);
    this.emit(out, user, slot, holds, nowMs, causes ? (causes.get(slot) ?? "definition") : cause);
    const { depStart, deps } = this.ruleSet.flat;
    const marks = this.marks;
    for (let d = depStart[slot]!, end = depStart[slot + 1]!; d < end; d++) {
      const dep = deps[d]!;
      if (marks[dep] === this.stamp) continue;
      marks[dep] = this.stamp;
      this.pushDerived(dep);
    }
  }

  private emit(out: Transition[], user: UserState, slot: number, enter: boolean, at: number, cause: Transition["cause"]) {
    const flat = this.ruleSet.flat;
    const version = flat.version[slot]!;
    if (version < 0) return; // no such segment (checked without touching the id string)
    out.push({ userId: user.id, segmentId: flat.ids[slot]!, kind: enter ? "enter" : "exit", at, cause, version });
  }

  /** Compacts, recomputes the due time when needed and (re)arms the user's timer if it moved. */
  private finish(user: UserState, now: number, prevDue: number): void {
    if (user.compactAt <= now) {
      // Only then are the series touched: merging and dropping old buckets changes no answer.
      let next = NEVER;
      for (let t = 0; t < TYPES; t++) {
        let s = user.seriesAt(t);
        if (s && needsCompaction(s, now)) {
          const c = compact(s, now);
          s = c.length > HEADER ? c : undefined;
          user.setSeries(t, s);
        }
        if (s) next = Math.min(next, compactionTime(s));
      }
      user.compactAt = next;
    }
    if (user.due <= now) user.due = this.computeDue(user, now, ALL_TYPES);
    if (user.due !== NEVER && user.due !== prevDue) this.timers.push(user.due, user);
    // Housekeeping: armed once; when it fires early (newer events since), it re-arms.
    if (user.expiry === NEVER) {
      let expiry = NEVER;
      for (let t = 0; t < TYPES; t++) {
        const s = user.seriesAt(t);
        if (s) expiry = Math.min(expiry, departureTime(keyT(s[s.length - s[0]!]!), HORIZON_MINUTES));
      }
      if (expiry !== NEVER) {
        user.expiry = expiry;
        this.expiries.push(expiry, user);
      }
    }
  }

  /**
   * The first instant after `now` at which some rule on this type could change truth (or an
   * earlier instant at which to look again). `fresh`: the step's aggregates and bounds at `now`
   * are current.
   * Per group, the thresholds next to the current aggregate bound an interval in which no rule
   * changes truth; the scan follows departing buckets until the aggregate leaves it.
   */
  private dueOfType(s: Series, typeIdx: number, now: number, fresh: boolean): number {
    let due = Math.min(nextArrival(s, now), NEVER);
    const measures = this.scratch().byType[typeIdx]!.measures;
    const { aggNow, bounds } = this;
    const stride = s[0]!;
    for (let k = 0; k < measures.length; k++) {
      const m = measures[k]!;
      const col = 1 + m.measure;
      if (m.measure >= 0 && col >= stride) continue; // a column this series lacks: all 0, never changes
      if (!fresh) aggregateInto(s, m.measure, m.windows, now, aggNow, bounds, m.offset);
      for (let w = 0; w < m.groups.length; w++) {
        let i = bounds[m.offset + w]!;
        if (i < 0) continue;
        const g = m.groups[w]!;
        const start = aggNow[m.offset + w]!;
        // Counts only fall as events leave: no threshold between here and 0, no flip to wait for.
        if (m.measure < 0 && !anyThresholdIn(g, 0, start)) continue;
        // The interval around `start` in which no GT/LTE/GTE/LT rule changes truth.
        const lv = g.lowerClosed.values;
        const li = lowerBound(lv, start, false);
        const lowExclusive = li > 0 ? lv[li - 1]! : -Infinity;
        const highInclusive = li < lv.length ? lv[li]! : Infinity;
        const uv = g.upperClosed.values;
        const ui = lowerBound(uv, start, true);
        const lowInclusive = ui > 0 ? uv[ui - 1]! : -Infinity;
        const highExclusive = ui < uv.length ? uv[ui]! : Infinity;
        const points = g.points.size > 0 ? g.points : null;
        const onPoint = points !== null && points.has(start);
        const windowMinutes = g.windowMinutes;
        let acc = start;
        let scanned = 0;
        for (; i < s.length; i += stride) {
          const key = s[i]!;
          const t = keyT(key);
          if (Math.floor(t / 2) > now) break; // the future tail: not in the window
          const leaves = departureTime(t, windowMinutes);
          if (leaves >= due) break;
          acc -= m.measure < 0 ? key - t * COUNT_SPAN : s[i + col]!;
          const flips =
            !(acc > lowExclusive && acc >= lowInclusive && acc <= highInclusive && acc < highExclusive) ||
            (points !== null && (onPoint ? acc !== start : points.has(acc)));
          if (flips || ++scanned >= MAX_DUE_SCAN) {
            due = leaves;
            break;
          }
        }
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
        s: Array.from(u.series, (x) => (x ? toSnapshot(x) : null)),
        m: membersToArray(u.members).map(idOf).filter((x): x is string => !!x),
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
      const user = new UserState(id, toMembers(members, members.length), su.e, generation);
      for (let t = 0; t < TYPES; t++) {
        const x = su.s[t];
        if (x && x.length > 1) user.setSeries(t, fromSnapshot(x, remap[t] ?? null));
      }
      user.due = 0; // unknown: `finish` computes every type's due
      user.compactAt = 0; // and compacts
      const replaced = this.users.get(id);
      if (replaced) this.forget(replaced);
      this.users.set(id, user);
      for (const segId of su.p ?? []) {
        const seg = rs.segments.get(segId);
        if (seg) changed.add(seg.slot);
      }
      this.clock = Math.max(this.clock, su.e);
      this.finish(user, su.e, NEVER);
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
