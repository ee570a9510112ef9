import type { EventType, Operator } from "@/lib/segments/definition";
import type { ApiRule } from "./types";

export const eventTypeLabels: Record<EventType, string> = {
  clicks: "Clicks",
  installs: "Installs",
  orders: "Orders",
  addToCart: "Add to cart",
};

export const operatorLabels: Record<Operator, { symbol: string; words: string }> = {
  GTE: { symbol: "≥", words: "at least" },
  GT: { symbol: ">", words: "more than" },
  EQ: { symbol: "=", words: "exactly" },
  NEQ: { symbol: "≠", words: "not" },
  LTE: { symbol: "≤", words: "at most" },
  LT: { symbol: "<", words: "fewer than" },
};

export const formatNumber = (n: number) => n.toLocaleString("en-US");

/** "60 min", "2 h", "24 h", "90 min" */
export function formatWindow(minutes: number): string {
  return minutes >= 60 && minutes % 60 === 0 ? `${minutes / 60} h` : `${minutes} min`;
}

/** "count of Add to cart ≥ 3 in 60 min", "sum of Orders.value > 100 in 24 h" */
export function describeRule(r: ApiRule): string {
  const measure = r.attribute === "sum" ? `sum of ${eventTypeLabels[r.eventType]}.${r.field ?? "value"}` : `count of ${eventTypeLabels[r.eventType]}`;
  return `${measure} ${operatorLabels[r.operator].symbol} ${formatNumber(r.value)} in ${formatWindow(r.windowMinutes)}`;
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;

/** The expression with segment ids replaced by “names” where known. */
export function expressionWithNames(expression: string, names: ReadonlyMap<string, string>): string {
  return expression.replace(UUID, (id) => {
    const name = names.get(id.toLowerCase());
    return name ? `“${name}”` : `${id.slice(0, 8)}…`;
  });
}

/** "just now", "5 s ago", "3 min ago", "2 h ago", else a date. */
export function relativeTime(iso: string, now = Date.now()): string {
  const s = Math.round((now - new Date(iso).getTime()) / 1000);
  if (s < 5) return "just now";
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  return new Date(iso).toLocaleString("en-US", { dateStyle: "medium", timeStyle: "short" });
}

export const formatDateTime = (iso: string) =>
  new Date(iso).toLocaleString("en-US", { dateStyle: "medium", timeStyle: "short" });
