"use client";
/**
 * Segment detail: live figures over the realtime channel, member count over time and entries /
 * exits per hour, backfill progress, the member list, the definition and its version history.
 */
import Link from "next/link";
import { useEffect, useMemo, useRef, useState } from "react";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { Badge, Button, Card, CardBody, CardHeader, EmptyState, ErrorState, Input, LoadingRows, PageHeader, ProgressBar, Skeleton, Table, Td, Th, buttonClass, cx } from "@/components/ui";
import { ApiError, apiFetch, errorMessage } from "@/lib/ui/api";
import { describeRule, expressionWithNames, formatDateTime, formatNumber, relativeTime } from "../format";
import type { ApiRule, ApiSegmentDetail, SegmentActivity, SegmentPage } from "../types";
import { FlowChart, MembersChart } from "./charts";
import { useSegmentLive } from "./use-segment-live";

/** `value`, changing at most once per `ms` (the latest value wins). */
function useThrottled<T>(value: T, ms: number): T {
  const [v, setV] = useState(value);
  const last = useRef(0);
  useEffect(() => {
    const wait = Math.max(0, last.current + ms - Date.now());
    const t = setTimeout(() => {
      last.current = Date.now();
      setV(value);
    }, wait);
    return () => clearTimeout(t);
  }, [value, ms]);
  return v;
}

/** Re-renders every `ms` so relative times stay true. */
function useNow(ms: number): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

export function SegmentDetail({ segmentId, canEdit }: { segmentId: string; canEdit: boolean }) {
  const live = useSegmentLive(segmentId);
  const snap = live.snapshot;
  const figures = snap ? `${snap.stats.currentMembers}|${snap.stats.entriesLast24h}|${snap.stats.exitsLast24h}` : "";
  const refreshKey = useThrottled(figures, 4_000);

  const detail = useQuery({
    queryKey: ["segments", "detail", segmentId, snap?.segment.version ?? 0, snap?.segment.active ?? null],
    queryFn: () => apiFetch<ApiSegmentDetail>(`/api/v1/segments/${segmentId}`),
    placeholderData: keepPreviousData,
  });
  const activity = useQuery({
    queryKey: ["segments", "activity", segmentId, refreshKey],
    queryFn: () => apiFetch<SegmentActivity>(`/api/v1/segments/${segmentId}/stats?window=24h`),
    placeholderData: keepPreviousData,
    refetchInterval: 60_000,
  });
  const all = useQuery({
    queryKey: ["segments", "names"],
    queryFn: () => apiFetch<SegmentPage>(`/api/v1/segments?pageSize=100`),
    staleTime: 30_000,
  });
  const names = useMemo(() => new Map((all.data?.data ?? []).map((s) => [s.id, s.name])), [all.data]);

  if (detail.isPending) {
    return (
      <div role="status" aria-label="Loading the segment">
        <Skeleton className="mb-2 h-8 w-72" />
        <Skeleton className="mb-6 h-4 w-96" />
        <div className="mb-6 grid gap-4 sm:grid-cols-2 lg:grid-cols-4">
          {[0, 1, 2, 3].map((i) => (
            <Skeleton key={i} className="h-24" />
          ))}
        </div>
        <Skeleton className="h-64" />
      </div>
    );
  }
  if (detail.isError) {
    if (detail.error instanceof ApiError && detail.error.status === 404) {
      return (
        <EmptyState
          title="This segment does not exist"
          description="It may have been deleted."
          action={
            <Link href="/segments" className={buttonClass("secondary")}>
              Back to segments
            </Link>
          }
        />
      );
    }
    return <ErrorState title="Could not load this segment" message={errorMessage(detail.error)} onRetry={() => void detail.refetch()} />;
  }

  const s = detail.data;
  const members = snap?.stats.currentMembers ?? s.stats.currentMembers;
  const entries = snap?.stats.entriesLast24h ?? s.stats.entriesLast24h;
  const exits = snap?.stats.exitsLast24h ?? s.stats.exitsLast24h;
  const evaluation = snap ? snap.stats.evaluation : s.stats.evaluation;
  const active = snap?.segment.active ?? s.active;
  const points = activity.data?.points.map((p, i, arr) => (i === arr.length - 1 ? { ...p, members } : p));

  return (
    <div>
      {live.deleted ? (
        <p role="alert" className="mb-4 rounded-md border border-amber-200 bg-amber-50 px-4 py-3 text-sm text-amber-950">
          This segment was deleted. <Link href="/segments" className="font-medium underline">Back to segments</Link>
        </p>
      ) : null}
      <PageHeader
        title={s.name}
        description={s.description ?? (s.type === "DERIVED" ? "Derived from other segments" : "Defined by rules over each user's events")}
        actions={
          <>
            <LiveBadge status={live.status} />
            {canEdit ? (
              <Link href={`/segments/${s.id}/edit`} className={buttonClass("primary")}>
                Edit segment
              </Link>
            ) : null}
          </>
        }
      />

      <div className="mb-4 grid gap-4 sm:grid-cols-2 lg:grid-cols-4">
        <Stat label="Members now" value={formatNumber(members)} testId="live-member-count" emphasis />
        <Stat label="Entries, last 24 h" value={formatNumber(entries)} />
        <Stat label="Exits, last 24 h" value={formatNumber(exits)} />
        <Card>
          <CardBody>
            <p className="text-xs font-medium uppercase tracking-wide text-slate-600">Status</p>
            <p className="mt-2 flex flex-wrap items-center gap-2">
              <Badge tone={active ? "green" : "gray"}>{active ? "Active" : "Inactive"}</Badge>
              <Badge tone={s.type === "DERIVED" ? "blue" : "gray"}>{s.type === "DERIVED" ? "Derived" : "Independent"}</Badge>
              <span className="text-sm text-slate-700">v{snap?.segment.version ?? s.version}</span>
            </p>
          </CardBody>
        </Card>
      </div>

      <Card className="mb-4">
        <CardBody>
          <Backfill evaluation={evaluation} version={snap?.segment.version ?? s.version} active={active} />
        </CardBody>
      </Card>

      <div className="mb-4 grid gap-4 lg:grid-cols-2">
        <Card>
          <CardHeader title="Members over the last 24 hours" description="At the end of each hour (UTC)" />
          <CardBody>
            <ChartArea loading={activity.isPending} error={activity.isError ? errorMessage(activity.error) : null} onRetry={() => void activity.refetch()}>
              {points ? <MembersChart points={points} /> : null}
            </ChartArea>
          </CardBody>
        </Card>
        <Card>
          <CardHeader title="Entries and exits per hour" description="Last 24 hours (UTC)" />
          <CardBody>
            <ChartArea loading={activity.isPending} error={activity.isError ? errorMessage(activity.error) : null} onRetry={() => void activity.refetch()}>
              {points ? <FlowChart points={points} /> : null}
            </ChartArea>
          </CardBody>
        </Card>
      </div>

      <div className="mb-4 grid items-start gap-4 lg:grid-cols-[minmax(0,3fr)_minmax(0,2fr)]">
        <MemberList segmentId={s.id} refreshKey={refreshKey} total={members} />
        <LiveFeed transitions={live.transitions} skipped={live.skipped} status={live.status} />
      </div>

      <div className="grid gap-4 lg:grid-cols-2">
        <Card>
          <CardHeader title="Definition" description={`Version ${s.version}, changed ${formatDateTime(s.updatedAt)}`} />
          <CardBody>
            <Definition type={s.type} rules={s.rules} expression={s.logicalExpression} names={names} />
          </CardBody>
        </Card>
        <VersionHistory segmentId={s.id} version={s.version} names={names} />
      </div>
    </div>
  );
}

function LiveBadge({ status }: { status: string }) {
  const label = status === "live" ? "Live" : status === "closed" ? "Not live" : status === "reconnecting" ? "Reconnecting…" : "Connecting…";
  return (
    <span role="status" className="inline-flex items-center gap-1.5 rounded-full bg-white px-2.5 py-1 text-xs font-medium text-slate-700 ring-1 ring-slate-200">
      <span aria-hidden className={cx("h-2 w-2 rounded-full", status === "live" ? "animate-pulse bg-emerald-500" : status === "closed" ? "bg-slate-400" : "bg-amber-500")} />
      {label}
    </span>
  );
}

function Stat({ label, value, emphasis, testId }: { label: string; value: string; emphasis?: boolean; testId?: string }) {
  return (
    <Card>
      <CardBody>
        <p className="text-xs font-medium uppercase tracking-wide text-slate-600">{label}</p>
        <p className={cx("mt-1 font-semibold tabular-nums text-slate-950", emphasis ? "text-3xl" : "text-2xl")} data-testid={testId} aria-label={`${label}: ${value}`}>
          {value}
        </p>
      </CardBody>
    </Card>
  );
}

function Backfill({ evaluation, version, active }: { evaluation: ApiSegmentDetail["stats"]["evaluation"]; version: number; active: boolean }) {
  if (!active) {
    return <p className="text-sm text-slate-700">The segment is inactive: nobody is evaluated against it.</p>;
  }
  if (!evaluation || evaluation.version !== version) {
    return <ProgressBar value={0} max={1} label={`Evaluating version ${version}`} detail="waiting for the segment processor to report" tone="amber" />;
  }
  const done = evaluation.usersTotal - evaluation.usersRemaining;
  if (evaluation.state === "ready") {
    return (
      <ProgressBar
        value={1}
        max={1}
        label={`Version ${version} is live`}
        detail={evaluation.usersTotal > 0 ? `${formatNumber(evaluation.usersTotal)} users evaluated · up to date` : "up to date"}
        tone="green"
      />
    );
  }
  return <ProgressBar value={done} max={Math.max(1, evaluation.usersTotal)} label={`Backfilling version ${version}`} detail={`${formatNumber(done)} of ${formatNumber(evaluation.usersTotal)} users`} />;
}

function ChartArea({ loading, error, onRetry, children }: { loading: boolean; error: string | null; onRetry(): void; children: React.ReactNode }) {
  return (
    <div className="h-56">
      {loading ? <Skeleton className="h-full w-full" /> : error ? <ErrorState title="Could not load the chart" message={error} onRetry={onRetry} /> : children}
    </div>
  );
}

function Definition({ type, rules, expression, names }: { type: string; rules: ApiRule[]; expression: string | null; names: ReadonlyMap<string, string> }) {
  if (type === "DERIVED") {
    return (
      <div>
        <p className="text-sm text-slate-900">{expressionWithNames(expression ?? "", names)}</p>
        <p className="mt-2 break-all font-mono text-xs text-slate-600">{expression}</p>
      </div>
    );
  }
  return (
    <ol className="space-y-2">
      {rules.map((r, i) => (
        <li key={i} className="flex items-start gap-2 text-sm text-slate-900">
          <span className="mt-0.5 rounded bg-slate-100 px-1.5 text-[11px] font-semibold text-slate-700">{i === 0 ? "IF" : "AND"}</span>
          {describeRule(r)}
        </li>
      ))}
    </ol>
  );
}

function MemberList({ segmentId, refreshKey, total }: { segmentId: string; refreshKey: string; total: number }) {
  const [search, setSearch] = useState("");
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const [q, setQ] = useState("");
  useEffect(() => {
    const t = setTimeout(() => {
      setQ(search.trim());
      setCursors([undefined]);
    }, 250);
    return () => clearTimeout(t);
  }, [search]);
  const after = cursors[cursors.length - 1];
  const params = new URLSearchParams({ limit: "15" });
  if (after) params.set("after", after);
  if (q) params.set("search", q);
  const page = useQuery({
    queryKey: ["segments", "members", segmentId, params.toString(), refreshKey],
    queryFn: () => apiFetch<{ data: { userId: string; enteredAt: string }[]; next: string | null }>(`/api/v1/segments/${segmentId}/members?${params}`),
    placeholderData: keepPreviousData,
  });
  const now = useNow(15_000);
  return (
    <Card>
      <CardHeader
        title="Members"
        description={`${formatNumber(total)} now, in user-id order`}
        actions={
          <div className="w-56">
            <label htmlFor="member-search" className="sr-only">
              Search members by user id
            </label>
            <Input id="member-search" type="search" placeholder="User id starts with…" value={search} onChange={(e) => setSearch(e.target.value)} />
          </div>
        }
      />
      <CardBody>
        {page.isPending ? (
          <LoadingRows rows={5} label="Loading members" />
        ) : page.isError ? (
          <ErrorState title="Could not load the members" message={errorMessage(page.error)} onRetry={() => void page.refetch()} />
        ) : page.data.data.length === 0 ? (
          <p className="py-8 text-center text-sm text-slate-600">{q ? `No member's id starts with “${q}”.` : "No members yet. Users enter as soon as they match."}</p>
        ) : (
          <>
            <Table aria-label="Members">
              <thead>
                <tr>
                  <Th>User</Th>
                  <Th>Entered</Th>
                </tr>
              </thead>
              <tbody className="divide-y divide-slate-100">
                {page.data.data.map((m) => (
                  <tr key={m.userId}>
                    <Td className="max-w-[16rem] truncate font-mono text-xs">
                      <Link href={`/users/${encodeURIComponent(m.userId)}`} className="text-indigo-700 hover:underline">
                        {m.userId}
                      </Link>
                    </Td>
                    <Td className="text-slate-700" title={formatDateTime(m.enteredAt)}>
                      {relativeTime(m.enteredAt, now)}
                    </Td>
                  </tr>
                ))}
              </tbody>
            </Table>
            <div className="mt-3 flex items-center justify-end gap-2">
              <Button variant="secondary" size="sm" disabled={cursors.length <= 1} onClick={() => setCursors((c) => c.slice(0, -1))}>
                Previous
              </Button>
              <Button variant="secondary" size="sm" disabled={!page.data.next} onClick={() => setCursors((c) => [...c, page.data.next ?? undefined])}>
                Next
              </Button>
            </div>
          </>
        )}
      </CardBody>
    </Card>
  );
}

const causeLabels: Record<string, string> = {
  event: "an event",
  time: "the window slid",
  definition: "definition change",
  deactivated: "deactivated",
  deleted: "deleted",
  erased: "user erased",
};

function LiveFeed({ transitions, skipped, status }: { transitions: ReturnType<typeof useSegmentLive>["transitions"]; skipped: number; status: string }) {
  const now = useNow(5_000);
  return (
    <Card>
      <CardHeader title="Live activity" description={status === "live" ? "Entries and exits as they happen" : "Waiting for the live connection"} />
      <CardBody className="max-h-[26rem] overflow-y-auto">
        {transitions.length === 0 ? (
          <p className="py-8 text-center text-sm text-slate-600">No entries or exits since you opened this page.</p>
        ) : (
          <ul className="divide-y divide-slate-100" aria-label="Recent entries and exits">
            {transitions.map((t) => (
              <li key={t.id} className="flex items-center gap-2 py-2 text-sm">
                <Badge tone={t.kind === "enter" ? "green" : "red"}>{t.kind === "enter" ? "Entered" : "Exited"}</Badge>
                <Link href={`/users/${encodeURIComponent(t.userId)}`} className="min-w-0 truncate font-mono text-xs text-indigo-700 hover:underline">
                  {t.userId}
                </Link>
                <span className="ml-auto shrink-0 text-xs text-slate-600" title={formatDateTime(t.at)}>
                  {causeLabels[t.cause] ?? t.cause} · {relativeTime(t.at, now)}
                </span>
              </li>
            ))}
          </ul>
        )}
        {skipped > 0 ? <p className="mt-2 text-xs text-slate-600">{formatNumber(skipped)} more not shown (high volume); the counts above include them.</p> : null}
      </CardBody>
    </Card>
  );
}

interface VersionRow {
  version: number;
  changedBy: string;
  changedAt: string;
  definition: { name?: string; active?: boolean; type?: string; rules?: ApiRule[]; logicalExpression?: string | null };
}

const actorLabel = (a: string) => (a === "admin-api-key" ? "admin API key" : a.startsWith("api-key:") ? "an API key" : a.startsWith("user:") ? "a signed-in user" : a);

function VersionHistory({ segmentId, version, names }: { segmentId: string; version: number; names: ReadonlyMap<string, string> }) {
  const versions = useQuery({
    queryKey: ["segments", "versions", segmentId, version],
    queryFn: () => apiFetch<{ data: VersionRow[] }>(`/api/v1/segments/${segmentId}/versions`),
    placeholderData: keepPreviousData,
  });
  return (
    <Card>
      <CardHeader title="Version history" description="Every change to the definition" />
      <CardBody className="max-h-[26rem] overflow-y-auto">
        {versions.isPending ? (
          <LoadingRows rows={3} label="Loading versions" />
        ) : versions.isError ? (
          <ErrorState title="Could not load the versions" message={errorMessage(versions.error)} onRetry={() => void versions.refetch()} />
        ) : (
          <ol className="space-y-3">
            {versions.data.data.map((v) => (
              <li key={v.version} className="rounded-md border border-slate-200 px-3 py-2">
                <p className="flex flex-wrap items-center gap-2 text-sm">
                  <span className="font-semibold text-slate-900">Version {v.version}</span>
                  {v.version === version ? <Badge tone="indigo">current</Badge> : null}
                  {v.definition.active === false ? <Badge>inactive</Badge> : null}
                  <span className="text-xs text-slate-600">
                    {formatDateTime(v.changedAt)} · by {actorLabel(v.changedBy)}
                  </span>
                </p>
                <p className="mt-1 text-xs text-slate-700">
                  {v.definition.type === "DERIVED"
                    ? expressionWithNames(v.definition.logicalExpression ?? "", names)
                    : (v.definition.rules ?? []).map(describeRule).join(" AND ")}
                </p>
              </li>
            ))}
          </ol>
        )}
      </CardBody>
    </Card>
  );
}
