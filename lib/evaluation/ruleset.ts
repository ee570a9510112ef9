/**
 * Compiles segment definitions into the structures the engine evaluates with.
 *
 * Rules are grouped by (event type, measure, window): a measure is the count or the sum of one
 * field. A group's rules are indexed by threshold so that, when the group's aggregate moves from
 * a to b, only the rules whose truth can differ between a and b are visited — the per-event cost
 * does not grow with the number of segments.
 * Pure: no I/O.
 */
import { DEFAULT_SUM_FIELD, compare, eventTypes, type EventType, type Operator } from "@/lib/segments/definition";
import { referencedSegments, type ExprNode } from "@/lib/segments/expression";
import type { SegmentDefinition } from "@/lib/segments/model";

export interface CompiledRule {
  segment: CompiledSegment;
  group: RuleGroup;
  operator: Operator;
  /** `operator` as a small integer (OP_GT …), for the engine's hot path. */
  op: number;
  value: number;
}

export const OP_GT = 0;
export const OP_GTE = 1;
export const OP_LT = 2;
export const OP_LTE = 3;
export const OP_EQ = 4;
export const OP_NEQ = 5;
const OP_CODES: Record<Operator, number> = { GT: OP_GT, GTE: OP_GTE, LT: OP_LT, LTE: OP_LTE, EQ: OP_EQ, NEQ: OP_NEQ };

/** `compare` on an operator code. */
export function compareOp(aggregate: number, op: number, threshold: number): boolean {
  switch (op) {
    case OP_GT:
      return aggregate > threshold;
    case OP_GTE:
      return aggregate >= threshold;
    case OP_LT:
      return aggregate < threshold;
    case OP_LTE:
      return aggregate <= threshold;
    case OP_EQ:
      return aggregate === threshold;
    default:
      return aggregate !== threshold;
  }
}

export interface CompiledSegment {
  id: string;
  /** Stable small integer for this id, used in per-user membership lists. */
  slot: number;
  version: number;
  name: string;
  type: "INDEPENDENT" | "DERIVED";
  active: boolean;
  /** A deleted segment stays compiled (inactive) so its former members can be told to exit. */
  deleted: boolean;
  rules: CompiledRule[];
  expression: ExprNode | null;
  compiled: CompiledExpr | null;
  /** Derived segments that reference this one directly. */
  dependents: CompiledSegment[];
  /** Position in a topological order (dependencies first). */
  topo: number;
}

/** Sorted thresholds of one operator class, for range queries. */
export interface ThresholdIndex {
  values: number[];
  rules: CompiledRule[];
  /** Parallel to `values`: each rule's segment slot and operator code (filled at the end of a compile). */
  slots: Int32Array;
  ops: Uint8Array;
}

export interface RuleGroup {
  typeIdx: number;
  /** -1: count; k ≥ 0: sum of the type's k-th tracked field. */
  measure: number;
  field: string | null;
  windowMinutes: number;
  /** GT and LTE flip when the threshold lies in [min(a,b), max(a,b)). */
  lowerClosed: ThresholdIndex;
  /** GTE and LT flip when the threshold lies in (min(a,b), max(a,b)]. */
  upperClosed: ThresholdIndex;
  /** EQ and NEQ flip when the threshold equals a or b. */
  points: Map<number, CompiledRule[]>;
  /** Every threshold of the group, ascending (for "is any threshold in this range"). */
  allValues: number[];
  ruleCount: number;
  /** Position of this group's aggregate in a rule set's flat per-group arrays (0 … groupCount-1). */
  index: number;
  /** Position of its (type, measure) block in `RuleSet.blocks`. */
  block: number;
}

/** The groups of one (event type, measure), windows ascending: one aggregate pass covers them. */
export interface MeasureGroups {
  measure: number;
  windows: number[];
  groups: RuleGroup[];
  /** Index of this block in `RuleSet.blocks`. */
  block: number;
  /** Index of its first group in the flat per-group arrays (its groups follow contiguously). */
  offset: number;
  typeIdx: number;
}

/** Per event type: its groups by measure, windows ascending (for one aggregate pass each). */
export interface TypeGroups {
  measures: MeasureGroups[];
  /** Longest window with any rule on this type. */
  maxWindow: number;
}

export interface RuleSet {
  /** Bumped on every compile; users remember the generation they were evaluated at. */
  generation: number;
  segments: Map<string, CompiledSegment>;
  bySlot: (CompiledSegment | undefined)[];
  /** Active segments in topological order. */
  ordered: CompiledSegment[];
  byType: TypeGroups[];
  /** Tracked sum fields per event type, append-only across compiles. */
  fields: string[][];
  /** `fields` as attribute paths: a name, or its parts when dotted (`a.b`). */
  fieldPaths: (string | string[])[][];
  /** Slots of the active segments a user with no events is in, ascending. */
  zeroMembers: number[];
  /** Next unused slot: slots are never reused, so a stale membership never names a new segment. */
  nextSlot: number;
  /** Every (type, measure) block; `groupCount` groups in all, numbered block by block. */
  blocks: MeasureGroups[];
  groupCount: number;
  flat: FlatRules;
}

export const typeIndex = (t: EventType) => eventTypes.indexOf(t);

const EMPTY_I32 = new Int32Array(0);
const EMPTY_U8 = new Uint8Array(0);

/** Segment kinds in `FlatRules.kind`. */
export const KIND_NONE = 0;
export const KIND_INDEPENDENT = 1;
export const KIND_DERIVED = 2;

/**
 * The rules of the active segments as flat arrays by slot, so the engine's per-flip work reads
 * a few small typed arrays instead of chasing rule and segment objects.
 */
export interface FlatRules {
  /** By slot: KIND_NONE (unknown or inactive), KIND_INDEPENDENT or KIND_DERIVED. */
  kind: Uint8Array;
  /** By slot: the segment's rules are ruleStart[slot] … ruleStart[slot + 1] - 1. */
  ruleStart: Int32Array;
  ruleGroup: Int32Array;
  ruleOp: Uint8Array;
  ruleValue: Float64Array;
  /** By group index: the block (type, measure) of the group. */
  groupBlock: Int32Array;
  /** By slot: position in the topological order (dependencies first). */
  topo: Int32Array;
  /** By slot: the derived segments that reference it are deps[depStart[slot] … depStart[slot + 1] - 1]. */
  depStart: Int32Array;
  deps: Int32Array;
  /** By slot: a derived segment's expression is program[exprStart[slot] … exprStart[slot + 1] - 1] (see `EXPR_*`). */
  exprStart: Int32Array;
  program: Int32Array;
  /** By slot: the definition version (for transitions); -1: no segment has this slot. */
  version: Float64Array;
  /** By slot: the segment id. */
  ids: string[];
}

/**
 * A derived segment's expression as a postfix program of int codes, `code & 3` being the op:
 * EXPR_REF pushes "member of slot `code >> 2`" (an inactive or unknown segment, slot -1, is never
 * a member), EXPR_NOT negates the top, EXPR_AND / EXPR_OR pop `code >> 2` values and push one.
 */
export const EXPR_REF = 0;
export const EXPR_NOT = 1;
export const EXPR_AND = 2;
export const EXPR_OR = 3;

function emitProgram(node: CompiledExpr, out: number[]): void {
  switch (node.type) {
    case "ref":
      out.push(node.segment && node.segment.active ? node.segment.slot * 4 + EXPR_REF : -4 + EXPR_REF);
      return;
    case "not":
      emitProgram(node.operand, out);
      out.push(EXPR_NOT);
      return;
    case "and":
    case "or":
      for (const o of node.operands) emitProgram(o, out);
      out.push(node.operands.length * 4 + (node.type === "and" ? EXPR_AND : EXPR_OR));
      return;
  }
}

function insertSorted(index: ThresholdIndex, rule: CompiledRule) {
  let lo = 0;
  let hi = index.values.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (index.values[mid]! < rule.value) lo = mid + 1;
    else hi = mid;
  }
  index.values.splice(lo, 0, rule.value);
  index.rules.splice(lo, 0, rule);
}

/** First index with values[i] >= x (or > x when strict). */
export function lowerBound(values: number[], x: number, strict: boolean): number {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (strict ? values[mid]! <= x : values[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Calls `visit` for every rule of the group whose truth differs between aggregates a and b. */
export function forEachFlipped(group: RuleGroup, a: number, b: number, visit: (rule: CompiledRule) => void): void {
  if (a === b) return;
  const lo = Math.min(a, b);
  const hi = Math.max(a, b);
  const lc = group.lowerClosed;
  for (let i = lowerBound(lc.values, lo, false); i < lc.values.length && lc.values[i]! < hi; i++) visit(lc.rules[i]!);
  const uc = group.upperClosed;
  for (let i = lowerBound(uc.values, lo, true); i < uc.values.length && uc.values[i]! <= hi; i++) visit(uc.rules[i]!);
  if (group.points.size > 0) {
    group.points.get(a)?.forEach(visit);
    group.points.get(b)?.forEach(visit);
  }
}

/** Whether any rule of the group flips between a and b (no allocation). */
export function anyFlip(group: RuleGroup, a: number, b: number): boolean {
  if (a === b) return false;
  const lo = Math.min(a, b);
  const hi = Math.max(a, b);
  const lc = group.lowerClosed.values;
  const i = lowerBound(lc, lo, false);
  if (i < lc.length && lc[i]! < hi) return true;
  const uc = group.upperClosed.values;
  const j = lowerBound(uc, lo, true);
  if (j < uc.length && uc[j]! <= hi) return true;
  return group.points.size > 0 && (group.points.has(a) || group.points.has(b));
}

/** Whether any threshold of the group lies in [lo, hi]: a move inside that range may flip it. */
export function anyThresholdIn(group: RuleGroup, lo: number, hi: number): boolean {
  const i = lowerBound(group.allValues, lo, false);
  return i < group.allValues.length && group.allValues[i]! <= hi;
}

export type EngineDefinition = SegmentDefinition & { deleted?: boolean };

export interface CompileInput {
  definitions: Iterable<EngineDefinition>;
  previous?: RuleSet;
}

/** Builds a rule set. Slots and tracked fields carry over from `previous`. */
export function compileRuleSet({ definitions, previous }: CompileInput): RuleSet {
  const defs = [...definitions];
  // `value` is always tracked, so a new sum-of-value segment is answered from retained state.
  // Another field is tracked from the moment a rule first names it (it counts 0 before).
  const fields = previous ? previous.fields.map((f) => [...f]) : eventTypes.map(() => [DEFAULT_SUM_FIELD]);
  const slotOf = new Map<string, number>();
  const bySlot: (CompiledSegment | undefined)[] = [];
  let nextSlot = previous?.nextSlot ?? 0;
  if (previous) for (const s of previous.segments.values()) slotOf.set(s.id, s.slot);

  const segments = new Map<string, CompiledSegment>();
  for (const d of defs) {
    let slot = slotOf.get(d.id);
    if (slot === undefined) {
      slot = nextSlot++;
      slotOf.set(d.id, slot);
    }
    const seg: CompiledSegment = {
      id: d.id,
      slot,
      version: d.version,
      name: d.name,
      type: d.type,
      active: d.active && !d.deleted,
      deleted: d.deleted ?? false,
      rules: [],
      expression: d.type === "DERIVED" ? d.expressionTree : null,
      compiled: null,
      dependents: [],
      topo: 0,
    };
    segments.set(d.id, seg);
    bySlot[slot] = seg;
  }

  // Every field any definition sums is tracked, active or not, so re-activation finds its data.
  const measureOf = (r: { eventType: EventType; attribute: string; field: string | null }) => {
    const typeIdx = typeIndex(r.eventType);
    if (r.attribute !== "sum") return -1;
    const field = r.field ?? DEFAULT_SUM_FIELD;
    const m = fields[typeIdx]!.indexOf(field);
    return m >= 0 ? m : fields[typeIdx]!.push(field) - 1;
  };
  for (const d of defs) for (const r of d.rules) measureOf(r);

  // Groups of active independent rules.
  const groupMap = new Map<string, RuleGroup>();
  for (const d of defs) {
    const seg = segments.get(d.id)!;
    if (!seg.active || d.type !== "INDEPENDENT") continue;
    for (const r of d.rules) {
      const typeIdx = typeIndex(r.eventType);
      const measure = measureOf(r);
      const key = `${typeIdx}|${measure}|${r.windowMinutes}`;
      let group = groupMap.get(key);
      if (!group) {
        group = {
          typeIdx,
          measure,
          field: measure < 0 ? null : fields[typeIdx]![measure]!,
          windowMinutes: r.windowMinutes,
          lowerClosed: { values: [], rules: [], slots: EMPTY_I32, ops: EMPTY_U8 },
          upperClosed: { values: [], rules: [], slots: EMPTY_I32, ops: EMPTY_U8 },
          points: new Map(),
          allValues: [],
          ruleCount: 0,
          index: 0,
          block: 0,
        };
        groupMap.set(key, group);
      }
      const rule: CompiledRule = { segment: seg, group, operator: r.operator, op: OP_CODES[r.operator], value: r.value };
      seg.rules.push(rule);
      group.ruleCount++;
      group.allValues.splice(lowerBound(group.allValues, r.value, false), 0, r.value);
      switch (r.operator) {
        case "GT":
        case "LTE":
          insertSorted(group.lowerClosed, rule);
          break;
        case "GTE":
        case "LT":
          insertSorted(group.upperClosed, rule);
          break;
        case "EQ":
        case "NEQ": {
          const list = group.points.get(r.value);
          if (list) list.push(rule);
          else group.points.set(r.value, [rule]);
          break;
        }
      }
    }
  }

  const byType: TypeGroups[] = eventTypes.map(() => ({ measures: [], maxWindow: 0 }));
  for (const g of groupMap.values()) {
    const tg = byType[g.typeIdx]!;
    let m = tg.measures.find((x) => x.measure === g.measure);
    if (!m) {
      m = { measure: g.measure, windows: [], groups: [], block: 0, offset: 0, typeIdx: g.typeIdx };
      tg.measures.push(m);
    }
    m.groups.push(g);
    tg.maxWindow = Math.max(tg.maxWindow, g.windowMinutes);
  }
  const blocks: MeasureGroups[] = [];
  let groupCount = 0;
  for (const tg of byType) {
    for (const m of tg.measures) {
      m.groups.sort((a, b) => a.windowMinutes - b.windowMinutes);
      m.windows = m.groups.map((g) => g.windowMinutes);
      m.block = blocks.length;
      m.offset = groupCount;
      blocks.push(m);
      m.groups.forEach((g, w) => {
        g.block = m.block;
        g.index = m.offset + w;
      });
      groupCount += m.groups.length;
    }
  }

  // Derived edges and a topological order (definitions are a DAG: the API refuses cycles).
  for (const seg of segments.values()) {
    if (!seg.expression) continue;
    seg.compiled = compileExpr(seg.expression, segments);
    for (const dep of referencedSegments(seg.expression)) segments.get(dep)?.dependents.push(seg);
  }
  const ordered: CompiledSegment[] = [];
  const state = new Map<CompiledSegment, 1 | 2>();
  const visit = (s: CompiledSegment) => {
    if (state.get(s) === 2) return;
    if (state.get(s) === 1) throw new Error(`segment dependency cycle through ${s.id}`);
    state.set(s, 1);
    if (s.expression) {
      for (const dep of referencedSegments(s.expression)) {
        const d = segments.get(dep);
        if (d) visit(d);
      }
    }
    state.set(s, 2);
    s.topo = ordered.length;
    ordered.push(s);
  };
  for (const s of segments.values()) visit(s);

  // Flat views for the engine's hot path.
  for (const g of groupMap.values()) {
    for (const index of [g.lowerClosed, g.upperClosed]) {
      index.slots = Int32Array.from(index.rules, (r) => r.segment.slot);
      index.ops = Uint8Array.from(index.rules, (r) => r.op);
    }
  }
  const flat: FlatRules = {
    kind: new Uint8Array(nextSlot),
    ruleStart: new Int32Array(nextSlot + 1),
    ruleGroup: new Int32Array(0),
    ruleOp: new Uint8Array(0),
    ruleValue: new Float64Array(0),
    groupBlock: new Int32Array(groupCount),
    topo: new Int32Array(nextSlot),
    depStart: new Int32Array(nextSlot + 1),
    deps: new Int32Array(0),
    exprStart: new Int32Array(nextSlot + 1),
    program: new Int32Array(0),
    version: new Float64Array(nextSlot).fill(-1),
    ids: new Array<string>(nextSlot).fill(""),
  };
  const depList: number[] = [];
  const program: number[] = [];
  for (let slot = 0; slot < nextSlot; slot++) {
    const seg = bySlot[slot];
    flat.depStart[slot] = depList.length;
    flat.exprStart[slot] = program.length;
    if (!seg) continue;
    flat.topo[slot] = seg.topo;
    flat.version[slot] = seg.version;
    flat.ids[slot] = seg.id;
    for (const d of seg.dependents) depList.push(d.slot);
    if (seg.active && seg.compiled) emitProgram(seg.compiled, program);
  }
  flat.depStart[nextSlot] = depList.length;
  flat.exprStart[nextSlot] = program.length;
  flat.deps = Int32Array.from(depList);
  flat.program = Int32Array.from(program);
  for (const b of blocks) for (const g of b.groups) flat.groupBlock[g.index] = b.block;
  let nRules = 0;
  for (let slot = 0; slot < nextSlot; slot++) {
    const seg = bySlot[slot];
    flat.ruleStart[slot] = nRules;
    if (!seg || !seg.active) continue;
    flat.kind[slot] = seg.type === "INDEPENDENT" ? KIND_INDEPENDENT : KIND_DERIVED;
    if (seg.type === "INDEPENDENT") nRules += seg.rules.length;
  }
  flat.ruleStart[nextSlot] = nRules;
  flat.ruleGroup = new Int32Array(nRules);
  flat.ruleOp = new Uint8Array(nRules);
  flat.ruleValue = new Float64Array(nRules);
  for (let slot = 0; slot < nextSlot; slot++) {
    if (flat.kind[slot] !== KIND_INDEPENDENT) continue;
    let i = flat.ruleStart[slot]!;
    for (const r of bySlot[slot]!.rules) {
      flat.ruleGroup[i] = r.group.index;
      flat.ruleOp[i] = r.op;
      flat.ruleValue[i] = r.value;
      i++;
    }
  }

  const active = ordered.filter((s) => s.active);
  const ruleSet: RuleSet = {
    generation: (previous?.generation ?? 0) + 1,
    segments,
    bySlot,
    ordered: active,
    byType,
    fields,
    fieldPaths: fields.map((f) => f.map((name) => (name.includes(".") ? name.split(".") : name))),
    zeroMembers: [],
    nextSlot,
    blocks,
    groupCount,
    flat,
  };
  const zero = new Set<number>();
  for (const s of active) if (segmentHolds(s, () => 0, (slot) => zero.has(slot))) zero.add(s.slot);
  ruleSet.zeroMembers = [...zero].sort((a, b) => a - b);
  return ruleSet;
}

/** An expression with ids resolved to compiled segments (null: unknown id, never a member). */
export type CompiledExpr =
  | { type: "ref"; segment: CompiledSegment | null }
  | { type: "not"; operand: CompiledExpr }
  | { type: "and" | "or"; operands: CompiledExpr[] };

function compileExpr(node: ExprNode, segments: Map<string, CompiledSegment>): CompiledExpr {
  switch (node.type) {
    case "segment":
      return { type: "ref", segment: segments.get(node.id) ?? null };
    case "not":
      return { type: "not", operand: compileExpr(node.operand, segments) };
    case "and":
    case "or":
      return { type: node.type, operands: node.operands.map((o) => compileExpr(o, segments)) };
  }
}

function evalExpr(node: CompiledExpr, isMemberSlot: (slot: number) => boolean): boolean {
  switch (node.type) {
    case "ref":
      return node.segment !== null && node.segment.active && isMemberSlot(node.segment.slot);
    case "not":
      return !evalExpr(node.operand, isMemberSlot);
    case "and":
      return node.operands.every((o) => evalExpr(o, isMemberSlot));
    case "or":
      return node.operands.some((o) => evalExpr(o, isMemberSlot));
  }
}

/**
 * Whether an active segment holds, given each rule's aggregate and the current memberships.
 * An inactive or unknown referenced segment counts as "not a member".
 */
export function segmentHolds(
  seg: CompiledSegment,
  aggregateOf: (rule: CompiledRule) => number,
  isMemberSlot: (slot: number) => boolean,
): boolean {
  if (!seg.active) return false;
  if (seg.type === "INDEPENDENT") {
    for (const r of seg.rules) if (!compare(aggregateOf(r), r.operator, r.value)) return false;
    return seg.rules.length > 0;
  }
  return seg.compiled !== null && evalExpr(seg.compiled, isMemberSlot);
}
