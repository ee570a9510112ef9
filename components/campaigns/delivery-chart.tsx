"use client";
import { Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { SEND_STATUSES, sendStatusColors, type Analytics } from "./types";

const HOUR = 3600_000;

/** Zero-filled buckets from `since` to now, one row per bucket with a count per status. */
export function deliveryRows(a: Analytics, now = Date.now()) {
  const step = a.bucket === "hour" ? HOUR : 24 * HOUR;
  const floor = (t: number) => {
    const d = new Date(t);
    if (a.bucket === "hour") d.setUTCMinutes(0, 0, 0);
    else d.setUTCHours(0, 0, 0, 0);
    return d.getTime();
  };
  const rows = new Map<number, Record<string, number>>();
  for (let t = floor(new Date(a.since).getTime()); t <= now; t += step) rows.set(t, {});
  for (const p of a.series) {
    const t = floor(new Date(p.bucket).getTime());
    const row = rows.get(t) ?? {};
    row[p.status] = (row[p.status] ?? 0) + p.count;
    rows.set(t, row);
  }
  return [...rows.entries()]
    .sort(([x], [y]) => x - y)
    .map(([t, counts]) => ({ t, ...Object.fromEntries(SEND_STATUSES.map((s) => [s, counts[s] ?? 0])) }));
}

export function DeliveryChart({ analytics }: { analytics: Analytics }) {
  const rows = deliveryRows(analytics);
  const label = (t: number) =>
    analytics.bucket === "hour"
      ? new Date(t).toLocaleString("en-US", { hour: "2-digit", minute: "2-digit", hour12: false, timeZone: "UTC" })
      : new Date(t).toLocaleDateString("en-US", { month: "short", day: "numeric", timeZone: "UTC" });
  const total = rows.reduce((a, r) => a + SEND_STATUSES.reduce((b, s) => b + (r as unknown as Record<string, number>)[s]!, 0), 0);
  return (
    <figure className="h-64 w-full" aria-label={`Sends per ${analytics.bucket} by status: ${total} in the period`}>
      <ResponsiveContainer width="100%" height="100%">
        <BarChart data={rows} margin={{ top: 8, right: 8, bottom: 0, left: -16 }}>
          <CartesianGrid vertical={false} stroke="#e2e8f0" />
          <XAxis dataKey="t" tickFormatter={label} tick={{ fontSize: 11, fill: "#475569" }} interval={Math.max(0, Math.ceil(rows.length / 7) - 1)} />
          <YAxis allowDecimals={false} tick={{ fontSize: 11, fill: "#475569" }} />
          <Tooltip labelFormatter={(t) => `${label(Number(t))} UTC`} />
          <Legend wrapperStyle={{ fontSize: 12 }} itemSorter={(item) => SEND_STATUSES.indexOf(String(item.dataKey) as (typeof SEND_STATUSES)[number])} />
          {SEND_STATUSES.map((s) => (
            <Bar key={s} dataKey={s} stackId="s" fill={sendStatusColors[s]} isAnimationActive={false} />
          ))}
        </BarChart>
      </ResponsiveContainer>
    </figure>
  );
}
