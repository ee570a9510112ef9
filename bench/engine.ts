/**
 * npm run bench:engine — the evaluation engine alone (lib/evaluation, no I/O, one thread = one
 * core): events/s, transitions/s, timer fires and memory per user, for several segment counts.
 *
 * For each segment count a fresh PartitionEngine consumes the same synthetic stream:
 *   - `--users` users (default 1M), all known from the start (`touchUser`, as profiles exist),
 *     active ones chosen Zipf-like (`--zipf` exponent, 0 = uniform), ranks scattered over the
 *     ids; events come in sessions (visits) of `--session` events on average, ~20 s apart;
 *     4 event types (clicks 55 %, addToCart 25 %, orders 15 %, installs 5 %), each with an
 *     integer `value` attribute;
 *   - event times move forward like a live stream spanning `--hours` of simulated time; the
 *     processing time is the stream head; `--late` (1 %) of events arrive 5 s–6 h late;
 *   - `engine.advance(now)` is called every simulated second (the worker's timer);
 *   - the first `--warmup-hours` (24 h) of the stream build a steady state (every window, up to
 *     the 24 h horizon, full; JIT warm) and are not timed; the rest is timed.
 * Segments: all distinct; 80 % independent with 1–3 rules (count or sum of `value`, windows
 * 5 min–24 h weighted toward hours, mostly GTE/GT, some LT/LTE/EQ/NEQ, thresholds placed at the
 * activity of users between the top 0.01 % and the top 20 %, so segment sizes vary widely),
 * 20 % derived (AND / OR / AND NOT / NOT over other segments).
 *
 * Reported per configuration (a JSON line, then a markdown table): events per CPU-second of the
 * timed part (applyEvent + advance, GC included; "per core"), events per wall second,
 * transitions, timer fires, heap used after full GCs divided by users (engine and rule set), and
 * the window state per active user from the series lengths (8 bytes per element + 48 bytes of
 * array headers: exact for series of up to 64 elements, which are kept at exact size).
 *
 * Usage: node --expose-gc --import tsx bench/engine.ts [--users 1000000] [--events 4000000]
 *          [--segments 10,1000,10000] [--hours 30] [--warmup-hours 24] [--session 2]
 *          [--zipf 0.5] [--late 0.01] [--seed 1] [--top N] [--quick]
 * --quick: a tenth of the users and events (same activity per user): about 5 minutes here.
 * The default (the 1M users) takes about an hour on 2 cores, nearly all of it the
 * 10,000-segment warm-up; --segments 10,1000 takes about 10 minutes.
 */
import { parseArgs } from "node:util";
import os from "node:os";
import { performance } from "node:perf_hooks";
import type { EventType, Operator, Rule } from "@/lib/segments/definition";
import { parseExpression } from "@/lib/segments/expression";
import type { SegmentDefinition } from "@/lib/segments/model";
import { Definitions, PartitionEngine, type EngineEvent } from "@/lib/evaluation/engine";
import { MinHeap } from "@/lib/evaluation/heap";
import { compileRuleSet } from "@/lib/evaluation/ruleset";

const { values: args } = parseArgs({
  options: {
    users: { type: "string", default: "1000000" },
    events: { type: "string", default: "4000000" },
    segments: { type: "string", default: "10,1000,10000" },
    hours: { type: "string", default: "30" },
    "warmup-hours": { type: "string", default: "24" },
    zipf: { type: "string", default: "0.5" },
    late: { type: "string", default: "0.01" },
    seed: { type: "string", default: "1" },
    session: { type: "string", default: "2" },
    top: { type: "string", default: "0" },
    quick: { type: "boolean", default: false },
  },
});
/** --quick: a tenth of the users and events (the same activity per user), a few minutes in all. */
const USERS = args.quick ? Number(args.users) / 10 : Number(args.users);
const EVENTS = args.quick ? Number(args.events) / 10 : Number(args.events);
const SEGMENT_COUNTS = args.segments.split(",").map(Number);
const HOURS = Number(args.hours);
const WARMUP_HOURS = Math.min(Number(args["warmup-hours"]), HOURS);
const ZIPF = Number(args.zipf);
const LATE = Number(args.late);
const SEED = Number(args.seed);
/** Mean events per session (visit); 1: every event independent. */
const SESSION = Number(args.session);
const GAP_MS = 20_000;
/** Diagnostics: print the N segments with the most transitions in the timed part. */
const TOP = Number(args.top);

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  console.error("run with node --expose-gc (npm run bench:engine does) for the memory figures");
  process.exit(1);
}

/** A small deterministic PRNG (mulberry32). */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
type Rand = () => number;
const logUniform = (r: Rand, lo: number, hi: number) => Math.exp(Math.log(lo) + r() * (Math.log(hi) - Math.log(lo)));
function weighted<T>(r: Rand, items: readonly (readonly [T, number])[]): T {
  let total = 0;
  for (const [, w] of items) total += w;
  let x = r() * total;
  for (const [v, w] of items) if ((x -= w) < 0) return v;
  return items[items.length - 1]![0];
}

// ---- workload ------------------------------------------------------------------------------

const TYPE_MIX: readonly (readonly [EventType, number])[] = [
  ["clicks", 55],
  ["addToCart", 25],
  ["orders", 15],
  ["installs", 5],
];
/** Typical `value` per event type (log-uniform between the bounds). */
const VALUE_RANGE: Record<EventType, [number, number]> = {
  clicks: [1, 60],
  addToCart: [5, 300],
  orders: [10, 1000],
  installs: [1, 5],
};
/** Windows in minutes and their weights: real-time triggers use minutes, most audiences hours to a day. */
const WINDOWS: readonly (readonly [number, number])[] = [
  [5, 4],
  [10, 4],
  [15, 5],
  [30, 7],
  [60, 16],
  [120, 10],
  [360, 12],
  [720, 12],
  [1440, 30],
];
/** The first rule of a segment says what the user did; later ones refine (often "and not …"). */
const FIRST_OPS: readonly (readonly [Operator, number])[] = [
  ["GTE", 57],
  ["GT", 36],
  ["EQ", 4],
  ["LT", 2],
  ["LTE", 1],
];
const OTHER_OPS: readonly (readonly [Operator, number])[] = [
  ["GTE", 30],
  ["GT", 20],
  ["LT", 25],
  ["LTE", 10],
  ["EQ", 8],
  ["NEQ", 7],
];

/**
 * The activity model of the stream, to place thresholds where users actually are: the count of
 * one event type in a window for the user at activity quantile `q` (0: the most active) when
 * that user is active in the window (at least one session).
 */
function expectedCount(type: EventType, windowMinutes: number, q: number): number {
  const share = TYPE_MIX.find(([t]) => t === type)![1] / 100;
  const sessionsPerMinute = EVENTS / SESSION / (HOURS * 60);
  const rank = Math.max(1, Math.round(q * USERS));
  const weight = ZIPF <= 0 ? 1 / USERS : Math.pow(rank, -ZIPF) / zipfNorm();
  return share * SESSION * Math.max(1, sessionsPerMinute * weight * windowMinutes);
}
let norm = 0;
function zipfNorm(): number {
  if (norm === 0) for (let k = 1; k <= USERS; k++) norm += Math.pow(k, -ZIPF);
  return norm;
}
const meanValue = (t: EventType) => {
  const [lo, hi] = VALUE_RANGE[t];
  return (hi - lo) / Math.log(hi / lo);
};
const twoDigits = (x: number) => {
  const p = Math.pow(10, Math.max(0, Math.floor(Math.log10(x)) - 1));
  return Math.max(1, Math.round(x / p) * p);
};

/**
 * A rule whose threshold sits at the activity of a quantile drawn log-uniformly between the top
 * 0.01 % and the top 20 % of users (so segment sizes vary over three orders of magnitude), with
 * some jitter; short windows end up mostly at "≥ 1".
 */
function makeRule(r: Rand, first: boolean): Rule {
  const eventType = weighted(r, TYPE_MIX.map(([t]) => [t, 1] as const));
  const sum = r() < 0.35;
  const windowMinutes = weighted(r, WINDOWS);
  const operator = weighted(r, first ? FIRST_OPS : OTHER_OPS);
  let value: number;
  if (operator === "EQ" || operator === "NEQ") {
    value = sum ? 0 : Math.floor(r() * 4);
    if (first && value === 0) value = 1;
  } else {
    const q = logUniform(r, 1e-4, 0.2);
    const count = expectedCount(eventType, windowMinutes, q) * logUniform(r, 0.25, 1.5);
    value = sum ? twoDigits(Math.max(1, count) * meanValue(eventType)) : Math.max(1, Math.round(count));
    if (operator === "GT") value -= sum ? 0 : 1;
  }
  return { eventType, attribute: sum ? "sum" : "count", field: sum ? "value" : null, operator, value, windowMinutes };
}

function definition(id: string, extra: Partial<SegmentDefinition>): SegmentDefinition {
  return {
    id,
    name: id,
    description: null,
    type: "INDEPENDENT",
    active: true,
    version: 1,
    rules: [],
    logicalExpression: null,
    expressionTree: null,
    dependencies: [],
    ...extra,
  };
}

function makeSegments(n: number, seed: number): SegmentDefinition[] {
  const r = rng(seed * 7919 + n);
  const defs: SegmentDefinition[] = [];
  const nDerived = n >= 5 ? Math.round(n * 0.2) : 0;
  const seen = new Set<string>();
  for (let i = 0; i < n - nDerived; i++) {
    // Distinct definitions: a real installation does not hold 500 copies of "≥ 1 click in 60 min".
    let rules: Rule[] = [];
    for (let attempt = 0; attempt < 1000; attempt++) {
      const k = weighted(r, [
        [1, 50],
        [2, 35],
        [3, 15],
      ]);
      rules = Array.from({ length: k }, (_, j) => makeRule(r, j === 0));
      const key = rules.map((x) => JSON.stringify(x)).sort().join("&");
      if (!seen.has(key)) {
        seen.add(key);
        break;
      }
    }
    defs.push(definition(`seg-${String(i).padStart(5, "0")}`, { rules }));
  }
  for (let i = 0; i < nDerived; i++) {
    const pick = () => defs[Math.floor(r() * defs.length)]!.id;
    let a = "";
    let b = "";
    let c = "";
    let text = "";
    for (let attempt = 0; attempt < 1000; attempt++) {
      [a, b, c] = [pick(), pick(), pick()];
      text = weighted(r, [
        [`${a} AND ${b}`, 35],
        [`${a} OR ${b}`, 25],
        [`${a} AND NOT ${b}`, 25],
        [`(${a} OR ${b}) AND ${c}`, 10],
        [`NOT ${a}`, 5],
      ]);
      if (a !== b && b !== c && a !== c && !seen.has(text)) break;
    }
    seen.add(text);
    const expressionTree = parseExpression(text);
    defs.push(
      definition(`der-${String(i).padStart(5, "0")}`, {
        type: "DERIVED",
        logicalExpression: text,
        expressionTree,
        dependencies: [a, b, c].filter((x) => text.includes(x)),
      }),
    );
  }
  return defs;
}

const T0 = Date.UTC(2026, 10, 24, 0, 0, 0);
const SPAN_MS = HOURS * 3600_000;
const WARMUP_EVENTS = Math.ceil((EVENTS * WARMUP_HOURS) / HOURS);

/** Zipf-like user choice: rank k has weight k^-s; ranks are scattered over the user ids. */
function userPicker(r: Rand): () => number {
  if (ZIPF <= 0) return () => Math.floor(r() * USERS);
  const cdf = new Float64Array(USERS);
  let acc = 0;
  for (let k = 0; k < USERS; k++) cdf[k] = acc += Math.pow(k + 1, -ZIPF);
  for (let k = 0; k < USERS; k++) cdf[k]! /= acc;
  const STEP = 999_983; // a prime: rank → id is a bijection for any USERS not divisible by it
  return () => {
    const x = r();
    let lo = 0;
    let hi = USERS - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return (lo * STEP) % USERS;
  };
}

interface Session {
  user: number;
  left: number;
}

/**
 * The event stream, generated in chunks outside the timed region (same seed: same stream).
 * Users come in sessions (visits): a session starts at random (Poisson), its user drawn
 * Zipf-like, and emits a geometric number of events (mean `--session`) some 20 s apart; the
 * stream interleaves the sessions in time order. The processing time is the stream head;
 * `--late` of the events carry a timestamp 5 s–6 h in the past.
 */
class Stream {
  private readonly r: Rand;
  private readonly pickUser: () => number;
  private readonly active = new MinHeap<Session>();
  private nextStart = T0;
  private now = T0;
  i = 0;
  constructor(seed: number) {
    this.r = rng(seed);
    this.pickUser = userPicker(rng(seed + 1));
  }

  private exp(mean: number) {
    return -Math.log(1 - this.r()) * mean;
  }

  /** Fills up to `n` events (not past index `end`). */
  fill(events: EngineEvent[], nows: Float64Array, n: number, end: number): number {
    const r = this.r;
    const meanStartGap = (SPAN_MS * SESSION) / EVENTS;
    let k = 0;
    for (; k < n && this.i < end; k++, this.i++) {
      while (this.active.size === 0 || this.nextStart <= this.active.peekKey()) {
        const left = SESSION <= 1 ? 1 : 1 + Math.floor(Math.log(1 - r()) / Math.log(1 - 1 / SESSION));
        this.active.push(this.nextStart, { user: this.pickUser(), left });
        this.nextStart += this.exp(meanStartGap);
      }
      const at = this.active.peekKey();
      const session = this.active.pop()!;
      if (--session.left > 0) this.active.push(at + this.exp(GAP_MS), session);
      this.now = Math.max(this.now, Math.floor(at));
      const eventType = weighted(r, TYPE_MIX);
      const [lo, hi] = VALUE_RANGE[eventType];
      const late = r() < LATE ? Math.floor(logUniform(r, 5_000, 6 * 3600_000)) : 0;
      events[k] = {
        userId: `user-${session.user}`,
        eventType,
        timestamp: this.now - late,
        attributes: { value: Math.round(logUniform(r, lo, hi)) },
      };
      nows[k] = this.now;
    }
    return k;
  }
}

// ---- measurement ---------------------------------------------------------------------------

interface Result {
  segments: number;
  independent: number;
  derived: number;
  zeroEventSegments: number;
  users: number;
  activeUsers: number;
  events: number;
  timedEvents: number;
  timedSeconds: number;
  /** Events per CPU-second of the process (main thread + V8's GC helper threads): per core. */
  eventsPerCpuSec: number;
  /** Events per wall-clock second (affected by other load on the machine). */
  eventsPerSec: number;
  usPerEvent: number;
  loadAverage: number[];
  advanceShare: number;
  transitionsPerSec: number;
  transitionsPerEvent: number;
  timerFiresPerSec: number;
  timerFiresPerEvent: number;
  eventsDroppedLate: number;
  heapBytesPerUser: number;
  windowStateBytesPerActiveUser: number;
  windowStateBytesPerUser: number;
  membershipBytesPerUser: number;
  bucketsPerActiveUser: number;
  membershipsPerUser: number;
  segmentsWithMembers: number;
  compileMs: number;
}

/** Heap used after full collections, repeated until the figure settles (sweeping is lazy). */
function heapUsed(): number {
  let last = Infinity;
  for (let i = 0; i < 10; i++) {
    gc!();
    const used = process.memoryUsage().heapUsed;
    if (Math.abs(used - last) < 1024 * 1024) return used;
    last = used;
  }
  return last;
}

function run(nSegments: number): Result {
  const defs = makeSegments(nSegments, SEED);
  const stream = new Stream(SEED);
  const CHUNK = 1 << 12; // small, so a chunk of event objects dies young (as a consumer batch would)
  const events: EngineEvent[] = new Array(CHUNK);
  const nows = new Float64Array(CHUNK);
  const baseline = heapUsed();

  const c0 = performance.now();
  const definitions = new Definitions(compileRuleSet({ definitions: defs }));
  const compileMs = performance.now() - c0;
  const engine = new PartitionEngine(definitions);

  // The population: every user is known from the start (a profile exists), most of them quiet;
  // zero-event rules ("< 1 orders in 60 min") hold for them. Untimed, like the warm-up.
  for (let u = 0; u < USERS; u++) engine.touchUser(`user-${u}`, T0);

  const bySegment = new Map<string, number>();
  let lastSec = -1;
  let timed = 0;
  let cpuMs = 0;
  let advanceMs = 0;
  let transitions = 0;
  let before = { ...engine.stats };
  let timedEvents = 0;
  const t0 = performance.now();
  const loadStart = os.loadavg()[0]!;
  let lastReport = t0;
  for (const [end, isTimed] of [
    [WARMUP_EVENTS, false],
    [EVENTS, true],
  ] as const) {
    if (isTimed) {
      before = { ...engine.stats };
      transitions = 0;
    }
    for (;;) {
      const n = stream.fill(events, nows, CHUNK, end);
      if (n === 0) break;
      const start = performance.now();
      const cpuStart = process.cpuUsage();
      for (let k = 0; k < n; k++) {
        const now = nows[k]!;
        const sec = Math.floor(now / 1000);
        if (sec !== lastSec) {
          lastSec = sec;
          const a = performance.now();
          const out = engine.advance(now);
          transitions += out.length;
          if (TOP > 0 && isTimed) for (const t of out) bySegment.set(t.segmentId, (bySegment.get(t.segmentId) ?? 0) + 1);
          advanceMs += performance.now() - a;
        }
        const out = engine.applyEvent(events[k]!, now);
        transitions += out.length;
        if (TOP > 0 && isTimed) for (const t of out) bySegment.set(t.segmentId, (bySegment.get(t.segmentId) ?? 0) + 1);
      }
      const elapsed = performance.now() - start;
      const cpu = process.cpuUsage(cpuStart);
      if (isTimed) {
        timed += elapsed;
        cpuMs += (cpu.user + cpu.system) / 1000;
        timedEvents += n;
      } else {
        advanceMs = 0;
      }
      if (performance.now() - lastReport > 10_000) {
        lastReport = performance.now();
        const done = stream.i;
        process.stderr.write(`  ${nSegments} segments: ${done}/${EVENTS} events, ${((lastReport - t0) / 1000).toFixed(0)} s\n`);
      }
    }
  }
  if (TOP > 0) {
    const byId = new Map(defs.map((d) => [d.id, d]));
    const top = [...bySegment].sort((a, b) => b[1] - a[1]).slice(0, TOP);
    for (const [id, n] of top) {
      const d = byId.get(id)!;
      const text = d.type === "DERIVED" ? d.logicalExpression : d.rules.map((x) => `${x.attribute}(${x.eventType}) ${x.operator} ${x.value} in ${x.windowMinutes}m`).join(" AND ");
      console.error(`  ${String(n).padStart(8)}  ${id}  ${text}`);
    }
  }
  const stats = engine.stats;
  events.fill(undefined as unknown as EngineEvent);
  const heap = heapUsed() - baseline;

  // Window state estimate and membership spread.
  let windowBytes = 0;
  let buckets = 0;
  let active = 0;
  let memberships = 0;
  let memberBytes = 0;
  const sharedLists = new Set<number[]>();
  const perSlot = new Int32Array(definitions.ruleSet.nextSlot);
  for (const u of engine.users.values()) {
    let any = false;
    for (const s of u.series) {
      if (!s) continue;
      any = true;
      windowBytes += s.length * 8 + 48;
      buckets += (s.length - 1) / s[0]!;
    }
    if (any) active++;
    memberships += u.members.length;
    if (u.members.length > 0 && !sharedLists.has(u.members)) {
      memberBytes += u.members.length * 8 + 48;
      if (u.members === definitions.ruleSet.zeroMembers) sharedLists.add(u.members);
    }
    for (const slot of u.members) perSlot[slot]!++;
  }
  const users = engine.users.size;
  const timedSeconds = timed / 1000;
  const result: Result = {
    segments: nSegments,
    independent: defs.filter((d) => d.type === "INDEPENDENT").length,
    derived: defs.filter((d) => d.type === "DERIVED").length,
    zeroEventSegments: definitions.ruleSet.zeroMembers.length,
    users,
    activeUsers: active,
    events: EVENTS,
    timedEvents,
    timedSeconds: round(timedSeconds, 3),
    eventsPerCpuSec: Math.round(timedEvents / (cpuMs / 1000)),
    eventsPerSec: Math.round(timedEvents / timedSeconds),
    usPerEvent: round((cpuMs * 1000) / timedEvents, 3),
    loadAverage: [loadStart, os.loadavg()[0]!].map((x) => round(x, 2)),
    advanceShare: round(advanceMs / timed, 3),
    transitionsPerSec: Math.round(transitions / (cpuMs / 1000)),
    transitionsPerEvent: round(transitions / timedEvents, 3),
    timerFiresPerSec: Math.round((stats.timerFires - before.timerFires) / (cpuMs / 1000)),
    timerFiresPerEvent: round((stats.timerFires - before.timerFires) / timedEvents, 3),
    eventsDroppedLate: stats.eventsDroppedLate,
    heapBytesPerUser: Math.round(heap / users),
    windowStateBytesPerActiveUser: Math.round(windowBytes / active),
    windowStateBytesPerUser: Math.round(windowBytes / users),
    membershipBytesPerUser: Math.round(memberBytes / users),
    bucketsPerActiveUser: round(buckets / active, 2),
    membershipsPerUser: round(memberships / users, 2),
    segmentsWithMembers: perSlot.filter((x) => x > 0).length,
    compileMs: Math.round(compileMs),
  };
  return result;
}

function round(x: number, digits: number) {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

console.error(
  `bench:engine — ${USERS} users, ${EVENTS} events over ${HOURS} h (timed after ${WARMUP_HOURS} h), zipf ${ZIPF}, ` +
    `late ${LATE}, segments ${SEGMENT_COUNTS.join("/")}; node ${process.version}, ${os.cpus().length} cpus (${os.cpus()[0]?.model ?? "?"})`,
);
const results: Result[] = [];
for (const n of SEGMENT_COUNTS) {
  const res = run(n);
  results.push(res);
  console.log(JSON.stringify(res));
}

const base = results.find((r) => r.segments === Math.min(...SEGMENT_COUNTS))!;
const fmt = (x: number) => x.toLocaleString("en-US");
console.log("");
console.log(
  `| segments | events/s per core (CPU time) | events/s (wall) | ×${base.segments}-segment cost | transitions/event | transitions/s | ` +
    `timer fires/event | heap bytes/user | window-state bytes/active user | memberships/user | load avg |`,
);
console.log("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
for (const r of results) {
  console.log(
    `| ${fmt(r.segments)} | ${fmt(r.eventsPerCpuSec)} | ${fmt(r.eventsPerSec)} | ${(base.eventsPerCpuSec / r.eventsPerCpuSec).toFixed(2)}× | ` +
      `${r.transitionsPerEvent} | ${fmt(r.transitionsPerSec)} | ${r.timerFiresPerEvent} | ${fmt(r.heapBytesPerUser)} | ` +
      `${fmt(r.windowStateBytesPerActiveUser)} | ${r.membershipsPerUser} | ${r.loadAverage.join("→")} |`,
  );
}
