import { cx } from "./cx";

/** Progress of a long operation (backfill, batch run): a bar with its figures, never a spinner. */
export function ProgressBar({ value, max, label, detail, tone = "indigo" }: { value: number; max: number; label: string; detail?: string; tone?: "indigo" | "green" | "amber" }) {
  const pct = max > 0 ? Math.min(100, Math.max(0, (value / max) * 100)) : 0;
  return (
    <div>
      <div className="mb-1 flex items-baseline justify-between gap-2 text-xs text-slate-700">
        <span className="font-medium">{label}</span>
        <span className="tabular-nums">{detail ?? `${Math.round(pct)}%`}</span>
      </div>
      <div
        role="progressbar"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={max}
        aria-valuenow={Math.min(value, max)}
        className="h-2 w-full overflow-hidden rounded-full bg-slate-200"
      >
        <div
          className={cx("h-full rounded-full transition-[width] duration-500", tone === "green" ? "bg-emerald-500" : tone === "amber" ? "bg-amber-500" : "bg-indigo-600")}
          style={{ width: `${pct}%` }}
        />
      </div>
    </div>
  );
}
