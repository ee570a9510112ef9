"use client";
import { Badge } from "@/components/ui";
import { cx } from "@/components/ui/cx";
import { eventTypeLabels, formatNumber, formatWindow, operatorLabels } from "@/components/segments/format";
import type { ExprExplanation, Explanation, RuleExplanation } from "./types";

function measure(r: RuleExplanation): string {
  const event = (eventTypeLabels as Record<string, string>)[r.eventType] ?? r.eventType;
  return r.attribute === "sum" ? `sum of ${event}.${r.field ?? "value"}` : `count of ${event}`;
}

const fmt = (n: number) => (Number.isInteger(n) ? formatNumber(n) : n.toLocaleString("en-US", { maximumFractionDigits: 2 }));

/** The aggregate as a bar against the threshold (a tick), both on one scale. Decorative: the figures are in text beside it. */
function AggregateBar({ rule }: { rule: RuleExplanation }) {
  const top = Math.max(Math.abs(rule.aggregate), Math.abs(rule.threshold), 1) * 1.2;
  const value = Math.min(100, (Math.max(0, rule.aggregate) / top) * 100);
  const mark = Math.min(100, (Math.max(0, rule.threshold) / top) * 100);
  return (
    <div aria-hidden className="relative h-2 w-full min-w-24 rounded-full bg-slate-100">
      <div className={cx("absolute inset-y-0 left-0 rounded-full", rule.holds ? "bg-emerald-500" : "bg-amber-500")} style={{ width: `${value}%` }} />
      <div className="absolute -inset-y-1 w-0.5 rounded bg-slate-700" style={{ left: `calc(${mark}% - 1px)` }} />
    </div>
  );
}

function RulesTable({ rules }: { rules: RuleExplanation[] }) {
  return (
    <table className="w-full text-sm">
      <caption className="sr-only">Each rule&apos;s aggregate against its threshold</caption>
      <thead>
        <tr className="text-left text-xs uppercase tracking-wide text-slate-600">
          <th scope="col" className="py-1.5 pr-3 font-semibold">Rule</th>
          <th scope="col" className="py-1.5 pr-3 text-right font-semibold">Aggregate</th>
          <th scope="col" className="py-1.5 pr-3 text-right font-semibold">Needs</th>
          <th scope="col" className="hidden w-1/4 py-1.5 pr-3 font-semibold sm:table-cell">
            <span className="sr-only">Aggregate against threshold</span>
          </th>
          <th scope="col" className="py-1.5 text-right font-semibold">Result</th>
        </tr>
      </thead>
      <tbody className="divide-y divide-slate-100">
        {rules.map((r, i) => (
          <tr key={i}>
            <td className="py-2 pr-3">
              <span className="font-medium text-slate-900">{measure(r)}</span>
              <span className="text-slate-600"> in the last {formatWindow(r.windowMinutes)}</span>
            </td>
            <td className="py-2 pr-3 text-right font-mono tabular-nums text-slate-900">{fmt(r.aggregate)}</td>
            <td className="py-2 pr-3 text-right font-mono tabular-nums text-slate-700" title={operatorLabels[r.operator].words}>
              {operatorLabels[r.operator].symbol} {fmt(r.threshold)}
            </td>
            <td className="hidden py-2 pr-3 sm:table-cell">
              <AggregateBar rule={r} />
            </td>
            <td className="py-2 text-right">
              <Badge tone={r.holds ? "green" : "amber"}>{r.holds ? "holds" : "fails"}</Badge>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function ValueBadge({ value }: { value: boolean }) {
  return <Badge tone={value ? "green" : "gray"}>{value ? "true" : "false"}</Badge>;
}

function ExprNode({ node }: { node: ExprExplanation }) {
  if (node.type === "segment") {
    return (
      <div className="flex flex-wrap items-center gap-2 py-1">
        <span className="font-medium text-slate-900">“{node.name ?? node.segmentId.slice(0, 8)}”</span>
        {!node.active ? <Badge tone="amber">inactive</Badge> : null}
        <ValueBadge value={node.value} />
      </div>
    );
  }
  const children = node.type === "not" ? [node.operand] : node.operands;
  return (
    <div className="py-1">
      <div className="flex items-center gap-2">
        <span className="rounded bg-slate-800 px-1.5 py-0.5 font-mono text-xs font-semibold text-white">{node.type.toUpperCase()}</span>
        <ValueBadge value={node.value} />
      </div>
      <ul className="ml-2 mt-1 border-l-2 border-slate-200 pl-4">
        {children.map((c, i) => (
          <li key={i}>
            <ExprNode node={c} />
          </li>
        ))}
      </ul>
    </div>
  );
}

/** Why a user is (or is not) in a segment: rules against thresholds, or the expression tree with each node's value. */
export function ExplainView({ explanation, isMember }: { explanation: Explanation; isMember: boolean }) {
  const e = explanation;
  return (
    <div className="space-y-3" data-testid="explain-view">
      <div className="flex flex-wrap items-center gap-2 text-sm">
        <Badge tone={e.holds ? "green" : "amber"}>{e.holds ? "Definition holds now" : "Definition does not hold now"}</Badge>
        {!e.active ? <Badge tone="amber">Segment inactive</Badge> : null}
        <span className="text-slate-600">
          version {e.version} · recomputed from the user&apos;s events of the last 24 h at{" "}
          {new Date(e.at).toLocaleTimeString("en-US", { hour12: false })}
        </span>
      </div>
      {e.rules ? <RulesTable rules={e.rules} /> : null}
      {e.expression ? (
        <div aria-label="Expression tree" role="group" className="rounded-md bg-slate-50 px-3 py-2 text-sm">
          <ExprNode node={e.expression} />
        </div>
      ) : null}
      {e.holds !== isMember ? (
        <p className="text-xs text-slate-600">
          {isMember
            ? "The engine still lists the user as a member: a window that just slid past is applied within a second or two."
            : "The engine has not (yet) recorded an entry: events are evaluated as they arrive, usually within a second."}
        </p>
      ) : null}
    </div>
  );
}
