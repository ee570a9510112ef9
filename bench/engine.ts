/**
 * npm run bench:engine — the evaluation engine alone (lib/evaluation, no I/O, one thread = one
 * core): events/s, transitions per event, timer fires and memory per user, for several segment
 * counts. Workloads and figures are described in BENCHMARKS.md ("Engine").
 *
 * For each segment count a fresh PartitionEngine (in a process of its own unless --in-process)
 * consumes the same synthetic stream:
 *   - `--users` users (default 1M), all known from the start (`touchUser`, as profiles exist),
 *     active ones chosen Zipf-like (`--zipf` exponent, 0 = uniform), ranks scattered over the
 *     ids; events come in sessions (visits) of `--session` events on average, ~20 s apart;
 *     4 event types (clicks 55 %, addToCart 25 %, orders 15 %, installs 5 %);
 *   - event times move forward like a live stream spanning `--hours` of simulated time; the
 *     processing time is the stream head; `--late` (1 %) of events arrive 5 s–6 h late;
 *   - `engine.advance(now)` is called every simulated second (the worker's timer);
 *   - the first `--warmup-hours` (24 h) of the stream build a steady state (every window, up to
 *     the 24 h horizon, full; JIT warm) and are not timed; the rest is timed.
 *
 * Two segment catalogs (`--workload`):
 *   - `realistic` (default): templates a marketer builds (engagement tiers, spend tiers, cart
 *     abandoners, window shoppers, new installs, lapsing users, high intent, spend bands, …),
 *     1–3 rules each, count and sum rules (orders/addToCart `value` and `quantity`), windows from
 *     a menu of 15 (5 min … 24 h), thresholds spread over the activity of the top 0.01 % … 30 %
 *     of users; 15 % derived (AND, AND NOT, OR, (a OR b) AND c, NOT). Events carry realistic
 *     payloads: clicks and installs have no numeric attribute, orders and addToCart a `value`
 *     and a `quantity`, all of them category / campaign / country / platform strings.
 *   - `churn` (the original workload): every event type has a `value`; 80 % independent
 *     segments of 1–3 random rules over 9 windows, thresholds crowded at low counts; 20 %
 *     derived. At 10,000 segments one event changes hundreds of memberships.
 *
 * Reported per configuration (a JSON line, then a markdown table): events per CPU-second of the
 * timed part (applyEvent + advance, GC included; "per core"), events per wall second,
 * transitions, rule visits and timer fires per event, heap used after full GCs divided by users
 * (engine and rule set), and the window state per active user from the series lengths (8 bytes
 * per element + 48 bytes of array headers: exact for series kept at exact size).
 *
 * Usage: node --expose-gc --import tsx bench/engine.ts [--workload realistic|churn]
 *          [--users 1000000] [--events 4000000] [--segments 10,1000,10000] [--repeat 1]
 *          [--hours 30] [--warmup-hours 24] [--session 2] [--zipf 0.5] [--late 0.01]
 *          [--seed 1] [--top N] [--quick] [--in-process] [--engine DIR]
 * --quick: a tenth of the users and events (same activity per user).
 * --repeat N: each configuration N times (fresh process each); the table shows the best run and
 *   the spread.
 * --engine DIR: load engine.ts and ruleset.ts from DIR instead of lib/evaluation (to compare
 *   with an older version, e.g. a `git worktree` of an earlier commit).
 */
import { parseArgs } from "node:util";
import { spawnSync } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { performance } from "node:perf_hooks";
import type { EventType, Operator, Rule } from "@/lib/segments/definition";
import { parseExpression } from "@/lib/segments/expression";
import type { SegmentDefinition } from "@/lib/segments/model";
import * as engineModule from "@/lib/evaluation/engine";
import type { EngineEvent } from "@/lib/evaluation/engine";
import * as rulesetModule from "@/lib/evaluation/ruleset";
import { HEADER as SERIES_HEADER } from "@/lib/evaluation/window";
import { membersBytes, membersToArray, type Members } from "@/lib/evaluation/members";
import { MinHeap } from "@/lib/evaluation/heap";

const { values: args } = parseArgs({
  options: {
    workload: { type: "string", default: "realistic" },
    users: { type: "string", default: "1000000" },
    events: { type: "string", default: "4000000" },
    segments: { type: "string", default: "10,1000,10000" },
    repeat: { type: "string", default: "1" },
    hours: { type: "string", default: "30" },
    "warmup-hours": { type: "string", default: "24" },
    zipf: { type: "string", default: "0.5" },
    late: { type: "string", default: "0.01" },
    seed: { type: "string", default: "1" },
    session: { type: "string", default: "2" },
    top: { type: "string", default: "0" },
    quick: { type: "boolean", default: false },
    "in-process": { type: "boolean", default: false },
    engine: { type: "string", default: "" },
    child: { type: "boolean", default: false },
  },
});
const WORKLOAD = args.workload;
if (WORKLOAD !== "realistic" && WORKLOAD !== "churn") {
  console.error(`--workload must be realistic or churn, not ${WORKLOAD}`);
  process.exit(2);
}
/** --quick: a tenth of the users and events (the same activity per user). */
const USERS = args.quick ? Number(args.users) / 10 : Number(args.users);
const EVENTS = args.quick ? Number(args.events) / 10 : Number(args.events);
const SEGMENT_COUNTS = args.segments.split(",").map(Number);
const REPEAT = Math.max(1, Number(args.repeat));
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

// ---- the activity model (shared by both workloads) -----------------------------------------

const TYPE_MIX: readonly (readonly [EventType, number])[] = [
  ["clicks", 55],
  ["addToCart", 25],
  ["orders", 15],
  ["installs", 5],
];

/**
 * The count of one event type in a window for the user at activity quantile `q` (0: the most
 * active) when that user is active in the window (at least one session): used to place
 * thresholds where users actually are.
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
const logMean = (lo: number, hi: number) => (hi - lo) / Math.log(hi / lo);
const twoDigits = (x: number) => {
  const p = Math.pow(10, Math.max(0, Math.floor(Math.log10(x)) - 1));
  return Math.max(1, Math.round(x / p) * p);
};

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

/** Derived segments over the independent ones, with distinct expressions. */
function addDerived(r: Rand, defs: SegmentDefinition[], nDerived: number, seen: Set<string>, mix: readonly (readonly [string, number])[]) {
  const independent = defs.length;
  for (let i = 0; i < nDerived; i++) {
    const pick = () => defs[Math.floor(r() * independent)]!.id;
    let a = "";
    let b = "";
    let c = "";
    let text = "";
    for (let attempt = 0; attempt < 1000; attempt++) {
      [a, b, c] = [pick(), pick(), pick()];
      const shape = weighted(r, mix);
      text = shape.replace("$a", a).replace("$b", b).replace("$c", c);
      if (a !== b && b !== c && a !== c && !seen.has(text)) break;
    }
    seen.add(text);
    defs.push(
      definition(`der-${String(i).padStart(5, "0")}`, {
        type: "DERIVED",
        logicalExpression: text,
        expressionTree: parseExpression(text),
        dependencies: [a, b, c].filter((x) => text.includes(x)),
      }),
    );
  }
}

const ruleKey = (rules: Rule[]) => rules.map((x) => JSON.stringify(x)).sort().join("&");

// ---- the churn workload (the original one) -------------------------------------------------

const CHURN_VALUES: Record<EventType, [number, number]> = {
  clicks: [1, 60],
  addToCart: [5, 300],
  orders: [10, 1000],
  installs: [1, 5],
};
const CHURN_WINDOWS: readonly (readonly [number, number])[] = [
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

function churnRule(r: Rand, first: boolean): Rule {
  const eventType = weighted(r, TYPE_MIX.map(([t]) => [t, 1] as const));
  const sum = r() < 0.35;
  const windowMinutes = weighted(r, CHURN_WINDOWS);
  const operator = weighted(r, first ? FIRST_OPS : OTHER_OPS);
  let value: number;
  if (operator === "EQ" || operator === "NEQ") {
    value = sum ? 0 : Math.floor(r() * 4);
    if (first && value === 0) value = 1;
  } else {
    const q = logUniform(r, 1e-4, 0.2);
    const count = expectedCount(eventType, windowMinutes, q) * logUniform(r, 0.25, 1.5);
    value = sum ? twoDigits(Math.max(1, count) * logMean(...CHURN_VALUES[eventType])) : Math.max(1, Math.round(count));
    if (operator === "GT") value -= sum ? 0 : 1;
  }
  return { eventType, attribute: sum ? "sum" : "count", field: sum ? "value" : null, operator, value, windowMinutes };
}

function churnSegments(n: number, seed: number): SegmentDefinition[] {
  const r = rng(seed * 7919 + n);
  const defs: SegmentDefinition[] = [];
  const nDerived = n >= 5 ? Math.round(n * 0.2) : 0;
  const seen = new Set<string>();
  for (let i = 0; i < n - nDerived; i++) {
    let rules: Rule[] = [];
    for (let attempt = 0; attempt < 1000; attempt++) {
      const k = weighted(r, [
        [1, 50],
        [2, 35],
        [3, 15],
      ]);
      rules = Array.from({ length: k }, (_, j) => churnRule(r, j === 0));
      const key = ruleKey(rules);
      if (!seen.has(key)) {
        seen.add(key);
        break;
      }
    }
    defs.push(definition(`seg-${String(i).padStart(5, "0")}`, { rules }));
  }
  addDerived(r, defs, nDerived, seen, [
    ["$a AND $b", 35],
    ["$a OR $b", 25],
    ["$a AND NOT $b", 25],
    ["($a OR $b) AND $c", 10],
    ["NOT $a", 5],
  ]);
  return defs;
}

function churnAttributes(r: Rand, type: EventType): Record<string, unknown> {
  const [lo, hi] = CHURN_VALUES[type];
  return { value: Math.round(logUniform(r, lo, hi)) };
}

// ---- the realistic workload ----------------------------------------------------------------

/** Windows a marketer picks (minutes) and how often: real-time triggers in minutes, most audiences hours to a day. */
const WINDOW_MENU: readonly (readonly [number, number])[] = [
  [5, 3],
  [10, 3],
  [15, 4],
  [30, 6],
  [45, 2],
  [60, 12],
  [90, 3],
  [120, 7],
  [180, 4],
  [240, 4],
  [360, 7],
  [480, 3],
  [720, 8],
  [1080, 2],
  [1440, 25],
];
const SHORT_WINDOWS = WINDOW_MENU.filter(([w]) => w <= 240);
const LONG_WINDOWS = WINDOW_MENU.filter(([w]) => w >= 60);

/** Numeric attributes of the realistic payloads (log-uniform `value`, geometric `quantity`). */
const VALUE_RANGE: Partial<Record<EventType, [number, number]>> = { addToCart: [5, 300], orders: [10, 1000] };
const QUANTITY_MEAN: Partial<Record<EventType, number>> = { addToCart: 1.5, orders: 2 };
/** String attributes and their cardinalities (Zipf-like popularity). */
const CATEGORIES = 50;
const CAMPAIGNS = 500;
const COUNTRIES = 60;
const PLATFORMS = ["web", "ios", "android"] as const;

const zipfIndex = (r: Rand, n: number) => Math.min(n - 1, Math.floor(Math.pow(n, r()) - 1));

function realisticAttributes(r: Rand, type: EventType): Record<string, unknown> {
  const attributes: Record<string, unknown> = {
    category: `cat-${zipfIndex(r, CATEGORIES)}`,
    country: `c${zipfIndex(r, COUNTRIES)}`,
    platform: PLATFORMS[Math.floor(r() * PLATFORMS.length)],
  };
  if (r() < 0.4) attributes.campaign = `cmp-${zipfIndex(r, CAMPAIGNS)}`;
  const range = VALUE_RANGE[type];
  if (range) {
    attributes.value = Math.round(logUniform(r, range[0], range[1]) * 100) / 100;
    const mean = QUANTITY_MEAN[type]!;
    attributes.quantity = 1 + Math.floor(Math.log(1 - r()) / Math.log(1 - 1 / mean));
  }
  return attributes;
}

/** A count threshold at the activity of a user drawn between the top 0.01 % and the top 30 %. */
function countAt(r: Rand, type: EventType, windowMinutes: number): number {
  const q = logUniform(r, 1e-4, 0.3);
  return Math.max(1, Math.round(expectedCount(type, windowMinutes, q) * logUniform(r, 0.5, 1.5)));
}
function sumAt(r: Rand, type: EventType, field: "value" | "quantity", windowMinutes: number): number {
  const n = countAt(r, type, windowMinutes);
  const per = field === "value" ? logMean(...VALUE_RANGE[type]!) : QUANTITY_MEAN[type]!;
  return twoDigits(n * per * logUniform(r, 0.5, 2));
}

const count = (eventType: EventType, operator: Operator, value: number, windowMinutes: number): Rule => ({
  eventType,
  attribute: "count",
  field: null,
  operator,
  value,
  windowMinutes,
});
const sum = (eventType: EventType, field: string, operator: Operator, value: number, windowMinutes: number): Rule => ({
  eventType,
  attribute: "sum",
  field,
  operator,
  value,
  windowMinutes,
});

/** Segment templates a marketer builds, with their share of the catalog. */
const TEMPLATES: readonly (readonly [(r: Rand) => Rule[], number])[] = [
  // Engagement tiers: "≥ k clicks in W".
  [(r) => { const w = weighted(r, WINDOW_MENU); return [count("clicks", "GTE", countAt(r, "clicks", w), w)]; }, 18],
  // Purchase frequency: "≥ k orders in W".
  [(r) => { const w = weighted(r, LONG_WINDOWS); return [count("orders", "GTE", countAt(r, "orders", w), w)]; }, 7],
  // Spend tiers: "orders.value ≥ X in W".
  [(r) => { const w = weighted(r, LONG_WINDOWS); return [sum("orders", "value", "GTE", sumAt(r, "orders", "value", w), w)]; }, 11],
  // Cart abandoners: "≥ k addToCart in W and no order in W' ≥ W".
  [(r) => {
    const w = weighted(r, SHORT_WINDOWS);
    const w2 = weighted(r, WINDOW_MENU.filter(([x]) => x >= w));
    return [count("addToCart", "GTE", countAt(r, "addToCart", w), w), count("orders", "LT", 1, w2)];
  }, 12],
  // Window shoppers: "≥ k clicks in W and nothing added to the cart".
  [(r) => { const w = weighted(r, WINDOW_MENU); return [count("clicks", "GTE", countAt(r, "clicks", w), w), count("addToCart", "LT", 1, w)]; }, 8],
  // New installs, optionally engaged.
  [(r) => {
    const w = weighted(r, LONG_WINDOWS);
    const rules = [count("installs", "GTE", 1, w)];
    if (r() < 0.5) rules.push(count("clicks", "GTE", countAt(r, "clicks", w), w));
    return rules;
  }, 6],
  // Cart value: "addToCart.value ≥ X in W".
  [(r) => { const w = weighted(r, WINDOW_MENU); return [sum("addToCart", "value", "GTE", sumAt(r, "addToCart", "value", w), w)]; }, 8],
  // Bulk buyers: "orders.quantity ≥ q in W".
  [(r) => { const w = weighted(r, LONG_WINDOWS); return [sum("orders", "quantity", "GTE", sumAt(r, "orders", "quantity", w), w)]; }, 4],
  // Lapsing: active today, quiet for the last W.
  [(r) => {
    const w = weighted(r, SHORT_WINDOWS.filter(([x]) => x >= 30));
    return [count("clicks", "GTE", countAt(r, "clicks", 1440), 1440), count("clicks", "LT", 1, w)];
  }, 6],
  // High intent: clicks, cart adds and cart value together.
  [(r) => {
    const w = weighted(r, WINDOW_MENU);
    return [
      count("clicks", "GTE", countAt(r, "clicks", w), w),
      count("addToCart", "GTE", countAt(r, "addToCart", w), w),
      sum("addToCart", "value", "GTE", sumAt(r, "addToCart", "value", w), w),
    ];
  }, 8],
  // Spend bands: "X ≤ orders.value < Y in W".
  [(r) => {
    const w = weighted(r, LONG_WINDOWS);
    const x = sumAt(r, "orders", "value", w);
    return [sum("orders", "value", "GTE", x, w), sum("orders", "value", "LT", twoDigits(x * logUniform(r, 2, 5)), w)];
  }, 6],
  // First purchase of the day / exactly k cart adds.
  [(r) => (r() < 0.5 ? [count("orders", "EQ", 1, weighted(r, LONG_WINDOWS))] : [count("addToCart", "EQ", 1 + Math.floor(r() * 3), weighted(r, SHORT_WINDOWS))]), 3],
  // Big single baskets: "addToCart.quantity > q in W".
  [(r) => { const w = weighted(r, SHORT_WINDOWS); return [sum("addToCart", "quantity", "GT", sumAt(r, "addToCart", "quantity", w), w)]; }, 2],
  // Dormant: "no click in W" (holds for quiet users: large segments).
  [(r) => [count("clicks", "LT", 1, weighted(r, LONG_WINDOWS))], 0.3],
];

function realisticSegments(n: number, seed: number): SegmentDefinition[] {
  const r = rng(seed * 7919 + n);
  const defs: SegmentDefinition[] = [];
  const nDerived = n >= 5 ? Math.round(n * 0.15) : 0;
  const seen = new Set<string>();
  for (let i = 0; i < n - nDerived; i++) {
    let rules: Rule[] = [];
    for (let attempt = 0; attempt < 1000; attempt++) {
      rules = weighted(r, TEMPLATES)(r);
      const key = ruleKey(rules);
      if (!seen.has(key)) {
        seen.add(key);
        break;
      }
    }
    defs.push(definition(`seg-${String(i).padStart(5, "0")}`, { rules }));
  }
  addDerived(r, defs, nDerived, seen, [
    ["$a AND $b", 40],
    ["$a AND NOT $b", 30],
    ["$a OR $b", 20],
    ["($a OR $b) AND $c", 8],
    ["NOT $a", 2],
  ]);
  return defs;
}

const makeSegments = WORKLOAD === "churn" ? churnSegments : realisticSegments;
const makeAttributes = WORKLOAD === "churn" ? churnAttributes : realisticAttributes;

// ---- the stream ----------------------------------------------------------------------------

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
      const late = r() < LATE ? Math.floor(logUniform(r, 5_000, 6 * 3600_000)) : 0;
      events[k] = {
        userId: `user-${session.user}`,
        eventType,
        timestamp: this.now - late,
        attributes: makeAttributes(r, eventType),
      };
      nows[k] = this.now;
    }
    return k;
  }
}

// ---- measurement ---------------------------------------------------------------------------

interface Result {
  workload: string;
  segments: number;
  independent: number;
  derived: number;
  rules: number;
  ruleGroups: number;
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
  /** Rules whose truth the engine re-checked, per event (events and timers); -1: not reported. */
  ruleVisitsPerEvent: number;
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
  warmupSeconds: number;
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

type EngineModule = typeof engineModule;
type RuleSetModule = typeof rulesetModule;

/** The engine under test, and the number of header elements of its series arrays. */
async function loadEngine(): Promise<{ engineMod: EngineModule; rulesetMod: RuleSetModule; header: number }> {
  const dir = args.engine ? path.resolve(args.engine) : null;
  if (!dir) return { engineMod: engineModule, rulesetMod: rulesetModule, header: SERIES_HEADER };
  const windowMod = (await import(pathToFileURL(path.join(dir, "window.ts")).href)) as { HEADER?: number };
  return {
    engineMod: (await import(pathToFileURL(path.join(dir, "engine.ts")).href)) as EngineModule,
    rulesetMod: (await import(pathToFileURL(path.join(dir, "ruleset.ts")).href)) as RuleSetModule,
    header: windowMod.HEADER ?? 1,
  };
}

async function run(nSegments: number): Promise<Result> {
  const { engineMod, rulesetMod, header } = await loadEngine();
  const defs = makeSegments(nSegments, SEED);
  const stream = new Stream(SEED);
  const CHUNK = 1 << 12; // small, so a chunk of event objects dies young (as a consumer batch would)
  const events: EngineEvent[] = new Array(CHUNK);
  const nows = new Float64Array(CHUNK);
  const baseline = heapUsed();

  const c0 = performance.now();
  const definitions = new engineMod.Definitions(rulesetMod.compileRuleSet({ definitions: defs }));
  const compileMs = performance.now() - c0;
  const engine = new engineMod.PartitionEngine(definitions);
  const stats = engine.stats as typeof engine.stats & { ruleVisits?: number };

  // The population: every user is known from the start (a profile exists), most of them quiet;
  // zero-event rules ("< 1 orders in 60 min") hold for them. Untimed, like the warm-up.
  for (let u = 0; u < USERS; u++) engine.touchUser(`user-${u}`, T0);

  const bySegment = new Map<string, number>();
  let lastSec = -1;
  let timed = 0;
  let cpuMs = 0;
  let advanceMs = 0;
  let transitions = 0;
  let before = { ...stats };
  let timedEvents = 0;
  const t0 = performance.now();
  let warmupSeconds = 0;
  const loadStart = os.loadavg()[0]!;
  let lastReport = t0;
  for (const [end, isTimed] of [
    [WARMUP_EVENTS, false],
    [EVENTS, true],
  ] as const) {
    if (isTimed) {
      before = { ...stats };
      transitions = 0;
      warmupSeconds = (performance.now() - t0) / 1000;
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
      if (performance.now() - lastReport > 30_000) {
        lastReport = performance.now();
        process.stderr.write(`  ${nSegments} segments: ${stream.i}/${EVENTS} events, ${((lastReport - t0) / 1000).toFixed(0)} s\n`);
      }
    }
  }
  if (TOP > 0) {
    const byId = new Map(defs.map((d) => [d.id, d]));
    const top = [...bySegment].sort((a, b) => b[1] - a[1]).slice(0, TOP);
    for (const [id, n] of top) {
      const d = byId.get(id)!;
      const text =
        d.type === "DERIVED"
          ? d.logicalExpression
          : d.rules.map((x) => `${x.attribute}(${x.eventType}${x.field ? "." + x.field : ""}) ${x.operator} ${x.value} in ${x.windowMinutes}m`).join(" AND ");
      console.error(`  ${String(n).padStart(8)}  ${id}  ${text}`);
    }
  }
  events.fill(undefined as unknown as EngineEvent);
  const heap = heapUsed() - baseline;

  // Window state estimate and membership spread.
  let windowBytes = 0;
  let buckets = 0;
  let active = 0;
  let memberships = 0;
  let memberBytes = 0;
  const rs = definitions.ruleSet;
  // Users with the zero-event memberships share the rule set's list (counted once).
  let zeroList: unknown = null;
  let zeroCounted = false;
  const perSlot = new Int32Array(rs.nextSlot);
  for (const u of engine.users.values()) {
    let any = false;
    for (const s of u.series) {
      if (!s) continue;
      any = true;
      windowBytes += s.length * 8 + 48;
      buckets += (s.length - header) / s[0]!;
    }
    if (any) active++;
    const members = u.members as Members;
    memberships += members.length;
    const slots = membersToArray(members);
    if (zeroList === null && slots.join() === rs.zeroMembers.join()) zeroList = members;
    if (members !== zeroList) memberBytes += membersBytes(members);
    else if (!zeroCounted) {
      memberBytes += membersBytes(members);
      zeroCounted = true;
    }
    for (const slot of slots) perSlot[slot]!++;
  }
  const users = engine.users.size;
  const timedSeconds = timed / 1000;
  const perCpuSec = (x: number) => Math.round(x / (cpuMs / 1000));
  return {
    workload: WORKLOAD,
    segments: nSegments,
    independent: defs.filter((d) => d.type === "INDEPENDENT").length,
    derived: defs.filter((d) => d.type === "DERIVED").length,
    rules: defs.reduce((n, d) => n + d.rules.length, 0),
    ruleGroups: rs.groupCount,
    zeroEventSegments: rs.zeroMembers.length,
    users,
    activeUsers: active,
    events: EVENTS,
    timedEvents,
    timedSeconds: round(timedSeconds, 3),
    eventsPerCpuSec: perCpuSec(timedEvents),
    eventsPerSec: Math.round(timedEvents / timedSeconds),
    usPerEvent: round((cpuMs * 1000) / timedEvents, 3),
    loadAverage: [loadStart, os.loadavg()[0]!].map((x) => round(x, 2)),
    advanceShare: round(advanceMs / timed, 3),
    transitionsPerSec: perCpuSec(transitions),
    transitionsPerEvent: round(transitions / timedEvents, 3),
    ruleVisitsPerEvent: stats.ruleVisits === undefined ? -1 : round((stats.ruleVisits - before.ruleVisits!) / timedEvents, 3),
    timerFiresPerSec: perCpuSec(stats.timerFires - before.timerFires),
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
    warmupSeconds: Math.round(warmupSeconds),
  };
}

function round(x: number, digits: number) {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Runs one configuration in a fresh process (its own heap and JIT state); its last stdout line is the result. */
function runChild(nSegments: number): Result {
  const argv = process.argv.slice(2).filter((a, i, all) => a !== "--segments" && all[i - 1] !== "--segments" && !a.startsWith("--segments="));
  const child = spawnSync(
    process.execPath,
    [...process.execArgv, fileURLToPath(import.meta.url), ...argv, "--segments", String(nSegments), "--child"],
    { stdio: ["ignore", "pipe", "inherit"], maxBuffer: 1 << 26 },
  );
  const lines = child.stdout.toString().trim().split("\n");
  if (child.status !== 0) throw new Error(`configuration ${nSegments} failed with status ${child.status}`);
  return JSON.parse(lines[lines.length - 1]!) as Result;
}

async function main() {
  if (args.child) {
    console.log(JSON.stringify(await run(SEGMENT_COUNTS[0]!)));
    return;
  }
  console.error(
    `bench:engine — workload ${WORKLOAD}, ${USERS} users, ${EVENTS} events over ${HOURS} h (timed after ${WARMUP_HOURS} h), ` +
      `zipf ${ZIPF}, late ${LATE}, segments ${SEGMENT_COUNTS.join("/")} × ${REPEAT}; node ${process.version}, ` +
      `${os.cpus().length} cpus (${os.cpus()[0]?.model ?? "?"})${args.engine ? `, engine from ${args.engine}` : ""}`,
  );
  const best: { best: Result; runs: number[] }[] = [];
  for (const n of SEGMENT_COUNTS) {
    const runs: Result[] = [];
    for (let k = 0; k < REPEAT; k++) {
      const res = args["in-process"] ? await run(n) : runChild(n);
      runs.push(res);
      console.log(JSON.stringify(res));
    }
    const top = runs.reduce((a, b) => (b.eventsPerCpuSec > a.eventsPerCpuSec ? b : a));
    best.push({ best: top, runs: runs.map((r) => r.eventsPerCpuSec) });
  }

  const base = best.find((r) => r.best.segments === Math.min(...SEGMENT_COUNTS))!.best;
  const fmt = (x: number) => x.toLocaleString("en-US");
  console.log("");
  console.log(
    `| segments | rule groups | events/s per core (best${REPEAT > 1 ? "; all runs" : ""}) | events/s (wall) | cost vs ${base.segments} | ` +
      `transitions/event | rule visits/event | timer fires/event | window-state bytes/active user | heap bytes/user | memberships/user | load avg |`,
  );
  console.log("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const { best: r, runs } of best) {
    const all = REPEAT > 1 ? ` (${runs.map(fmt).join(", ")})` : "";
    console.log(
      `| ${fmt(r.segments)} | ${r.ruleGroups} | ${fmt(r.eventsPerCpuSec)}${all} | ${fmt(r.eventsPerSec)} | ${(base.eventsPerCpuSec / r.eventsPerCpuSec).toFixed(2)}× | ` +
        `${r.transitionsPerEvent} | ${r.ruleVisitsPerEvent < 0 ? "–" : r.ruleVisitsPerEvent} | ${r.timerFiresPerEvent} | ` +
        `${fmt(r.windowStateBytesPerActiveUser)} | ${fmt(r.heapBytesPerUser)} | ${r.membershipsPerUser} | ${r.loadAverage.join("→")} |`,
    );
  }
}

await main();
