"use client";
import { Area, AreaChart, Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";

const time = (iso: string) => new Date(iso).toLocaleTimeString("en-US", { hour: "2-digit", minute: "2-digit", hour12: false });
const axis = { tick: { fontSize: 11, fill: "#475569" } };

export function EventsChart({ data }: { data: { minute: string; events: number }[] }) {
  const total = data.reduce((a, d) => a + d.events, 0);
  return (
    <figure className="h-48 w-full" aria-label={`Events ingested per minute over the last ${data.length} minutes: ${total} in all`}>
      <ResponsiveContainer width="100%" height="100%">
        <AreaChart data={data} margin={{ top: 8, right: 20, bottom: 0, left: -12 }}>
          <CartesianGrid vertical={false} stroke="#e2e8f0" />
          <XAxis dataKey="minute" tickFormatter={time} interval={Math.max(0, Math.ceil(data.length / 7) - 1)} {...axis} />
          <YAxis allowDecimals={false} {...axis} />
          <Tooltip labelFormatter={(v) => time(String(v))} formatter={(v) => [v, "events"]} />
          <Area type="linear" dataKey="events" stroke="#4f46e5" fill="#e0e7ff" strokeWidth={2} isAnimationActive={false} />
        </AreaChart>
      </ResponsiveContainer>
    </figure>
  );
}

export function TransitionsChart({ data }: { data: { minute: string; entries: number; exits: number }[] }) {
  const entries = data.reduce((a, d) => a + d.entries, 0);
  const exits = data.reduce((a, d) => a + d.exits, 0);
  return (
    <figure className="h-48 w-full" aria-label={`Segment entries and exits per minute over the last ${data.length} minutes: ${entries} entries, ${exits} exits`}>
      <ResponsiveContainer width="100%" height="100%">
        <BarChart data={data} margin={{ top: 8, right: 20, bottom: 0, left: -12 }}>
          <CartesianGrid vertical={false} stroke="#e2e8f0" />
          <XAxis dataKey="minute" tickFormatter={time} interval={Math.max(0, Math.ceil(data.length / 7) - 1)} {...axis} />
          <YAxis allowDecimals={false} {...axis} />
          <Tooltip labelFormatter={(v) => time(String(v))} />
          <Legend wrapperStyle={{ fontSize: 12 }} />
          <Bar dataKey="entries" name="entries" stackId="t" fill="#059669" isAnimationActive={false} />
          <Bar dataKey="exits" name="exits" stackId="t" fill="#94a3b8" isAnimationActive={false} />
        </BarChart>
      </ResponsiveContainer>
    </figure>
  );
}
