"use client";
/** recharts wrappers for the segment detail: fixed heights so nothing jumps while loading. */
import { Area, AreaChart, Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import type { ActivityPoint } from "../types";

const hourLabel = (iso: string) => new Date(iso).toLocaleTimeString("en-US", { hour: "numeric", hour12: false, timeZone: "UTC" }).padStart(2, "0") + ":00";
const tooltipLabel = (iso: unknown) =>
  typeof iso === "string" ? `${new Date(iso).toLocaleString("en-US", { dateStyle: "medium", timeStyle: "short", timeZone: "UTC" })} UTC` : "";

export function MembersChart({ points }: { points: ActivityPoint[] }) {
  return (
    <ResponsiveContainer width="100%" height="100%">
      <AreaChart data={points} margin={{ top: 8, right: 8, bottom: 0, left: 0 }}>
        <defs>
          <linearGradient id="members-fill" x1="0" y1="0" x2="0" y2="1">
            <stop offset="0%" stopColor="#4f46e5" stopOpacity={0.25} />
            <stop offset="100%" stopColor="#4f46e5" stopOpacity={0.02} />
          </linearGradient>
        </defs>
        <CartesianGrid stroke="#e2e8f0" vertical={false} />
        <XAxis dataKey="at" tickFormatter={hourLabel} tick={{ fontSize: 11, fill: "#475569" }} interval={3} tickLine={false} axisLine={{ stroke: "#cbd5e1" }} />
        <YAxis allowDecimals={false} width={48} tick={{ fontSize: 11, fill: "#475569" }} tickLine={false} axisLine={false} />
        <Tooltip labelFormatter={tooltipLabel} formatter={(v) => [Number(v).toLocaleString("en-US"), "Members"]} />
        <Area type="monotone" dataKey="members" name="Members" stroke="#4f46e5" strokeWidth={2} fill="url(#members-fill)" isAnimationActive={false} />
      </AreaChart>
    </ResponsiveContainer>
  );
}

export function FlowChart({ points }: { points: ActivityPoint[] }) {
  return (
    <ResponsiveContainer width="100%" height="100%">
      <BarChart data={points} margin={{ top: 8, right: 8, bottom: 0, left: 0 }} barGap={1}>
        <CartesianGrid stroke="#e2e8f0" vertical={false} />
        <XAxis dataKey="at" tickFormatter={hourLabel} tick={{ fontSize: 11, fill: "#475569" }} interval={3} tickLine={false} axisLine={{ stroke: "#cbd5e1" }} />
        <YAxis allowDecimals={false} width={48} tick={{ fontSize: 11, fill: "#475569" }} tickLine={false} axisLine={false} />
        <Tooltip labelFormatter={tooltipLabel} formatter={(v, name) => [Number(v).toLocaleString("en-US"), String(name)]} />
        <Legend iconType="square" wrapperStyle={{ fontSize: 12 }} />
        <Bar dataKey="entries" name="Entries" fill="#059669" isAnimationActive={false} />
        <Bar dataKey="exits" name="Exits" fill="#dc2626" isAnimationActive={false} />
      </BarChart>
    </ResponsiveContainer>
  );
}
