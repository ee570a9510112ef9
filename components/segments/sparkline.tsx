import type { ActivityPoint } from "./types";

/**
 * A 24-hour member count sparkline: fixed size (no layout jump while loading), with a text
 * alternative for screen readers.
 */
export function Sparkline({ points, width = 120, height = 32, label }: { points: ActivityPoint[] | undefined; width?: number; height?: number; label: string }) {
  if (!points || points.length === 0) {
    return <div aria-hidden className="animate-pulse rounded bg-slate-100" style={{ width, height }} />;
  }
  const values = points.map((p) => p.members);
  const max = Math.max(1, ...values);
  const min = Math.min(...values);
  const span = Math.max(1, max - min);
  const pad = 2;
  const x = (i: number) => pad + (i * (width - 2 * pad)) / Math.max(1, values.length - 1);
  const y = (v: number) => height - pad - ((v - min) * (height - 2 * pad)) / span;
  const line = values.map((v, i) => `${i === 0 ? "M" : "L"}${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
  const area = `${line} L${x(values.length - 1).toFixed(1)},${height} L${x(0).toFixed(1)},${height} Z`;
  const first = values[0] ?? 0;
  const last = values[values.length - 1] ?? 0;
  const trend = last > first ? "up" : last < first ? "down" : "flat";
  return (
    <svg width={width} height={height} viewBox={`0 0 ${width} ${height}`} role="img" aria-label={`${label}: ${first} → ${last} members over 24 hours (${trend})`}>
      <path d={area} className="fill-indigo-100" />
      <path d={line} className="fill-none stroke-indigo-600" strokeWidth={1.5} strokeLinejoin="round" strokeLinecap="round" />
      <circle cx={x(values.length - 1)} cy={y(last)} r={2.5} className="fill-indigo-600" />
    </svg>
  );
}
