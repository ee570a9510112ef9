"use client";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useEffect, useState } from "react";
import { keepPreviousData, useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Badge, Button, Card, CardBody, CardHeader, EmptyState, ErrorState, Field, LoadingRows, PageHeader, ProgressBar, Select, Skeleton, Table, Td, Th, buttonClass } from "@/components/ui";
import { formatDateTime, formatNumber, relativeTime } from "@/components/segments/format";
import { ApiError, apiFetch, errorMessage } from "@/lib/ui/api";
import { DeliveryChart } from "./delivery-chart";
import { SEND_STATUSES, channelLabels, sendStatusColors, statusTone, triggerLabels, type Analytics, type ApiRun, type CampaignDetail as Detail, type SendStatus, type SendsPage } from "./types";

const sendTone: Record<SendStatus, "green" | "indigo" | "blue" | "amber" | "red"> = { sent: "green", queued: "indigo", sending: "blue", skipped: "amber", failed: "red" };
const runTone = { SCHEDULED: "gray", RUNNING: "blue", PAUSED: "amber", COMPLETED: "green", FAILED: "red" } as const;
const title = (s: string) => s.charAt(0) + s.slice(1).toLowerCase();

function Stat({ label, value, hint }: { label: string; value: React.ReactNode; hint?: string }) {
  return (
    <Card className="px-4 py-3">
      <p className="text-xs font-medium uppercase tracking-wide text-slate-600">{label}</p>
      <p className="mt-1 text-2xl font-semibold tabular-nums text-slate-950">{value}</p>
      {hint ? <p className="mt-0.5 text-xs text-slate-600">{hint}</p> : null}
    </Card>
  );
}

function RunRow({ run }: { run: ApiRun }) {
  const done = run.progress.sent + run.progress.skipped + run.progress.failed;
  const when = run.status === "SCHEDULED" ? `starts ${formatDateTime(run.scheduledAt)}` : run.finishedAt ? `finished ${relativeTime(run.finishedAt)}` : run.startedAt ? `started ${relativeTime(run.startedAt)}` : "";
  return (
    <li className="py-3">
      <div className="mb-2 flex flex-wrap items-center justify-between gap-2 text-sm">
        <span className="flex items-center gap-2">
          <Badge tone={runTone[run.status]}>{title(run.status)}</Badge>
          <span className="font-mono text-xs text-slate-600">run {run.id.slice(0, 8)}</span>
        </span>
        <span className="text-xs text-slate-600">{when}</span>
      </div>
      {run.total === null ? (
        <ProgressBar value={0} max={1} label="Batch run" detail={run.status === "SCHEDULED" ? "waiting to start" : "counting members…"} />
      ) : (
        <ProgressBar
          value={done}
          max={Math.max(run.total, done)}
          label={`Batch run ${run.id.slice(0, 8)}`}
          tone={run.status === "COMPLETED" ? "green" : run.status === "PAUSED" || run.status === "FAILED" ? "amber" : "indigo"}
          detail={`${formatNumber(done)} of ${formatNumber(run.total)} · ${formatNumber(run.progress.sent)} sent, ${formatNumber(run.progress.skipped)} skipped, ${formatNumber(run.progress.failed)} failed`}
        />
      )}
    </li>
  );
}

function Sends({ id, live }: { id: string; live: boolean }) {
  const [status, setStatus] = useState<"" | SendStatus>("");
  const q = useInfiniteQuery({
    queryKey: ["campaign", id, "sends", status],
    initialPageParam: null as number | null,
    queryFn: ({ pageParam }) => apiFetch<SendsPage>(`/api/v1/campaigns/${id}/sends?limit=25${status ? `&status=${status}` : ""}${pageParam ? `&before=${pageParam}` : ""}`),
    getNextPageParam: (last) => last.next,
    refetchInterval: live ? 3_000 : 15_000,
    placeholderData: keepPreviousData,
  });
  const rows = q.data?.pages.flatMap((p) => p.data) ?? [];
  return (
    <Card>
      <CardHeader
        title="Sends"
        description="Every message, newest first: one per user and transition or batch run"
        actions={
          <a href={`/api/v1/campaigns/${id}/sends.csv`} className={buttonClass("secondary", "sm")}>
            Download CSV
          </a>
        }
      />
      <CardBody className="space-y-3">
        <Field label="Show" className="max-w-48">
          <Select value={status} onChange={(e) => setStatus(e.target.value as "" | SendStatus)}>
            <option value="">All sends</option>
            {SEND_STATUSES.map((s) => (
              <option key={s} value={s}>
                {title(s)}
              </option>
            ))}
          </Select>
        </Field>
        {q.isPending ? (
          <LoadingRows rows={5} label="Loading sends" />
        ) : q.isError ? (
          <ErrorState message={errorMessage(q.error)} onRetry={() => void q.refetch()} />
        ) : rows.length === 0 ? (
          <EmptyState title={status ? `No ${status} sends` : "No sends yet"} description={status ? "Try another status." : "Sends appear here as the campaign reaches users."} />
        ) : (
          <>
            <Table aria-label="Sends">
              <thead>
                <tr>
                  <Th>User</Th>
                  <Th>Status</Th>
                  <Th className="hidden md:table-cell">Reason</Th>
                  <Th className="text-right">Attempts</Th>
                  <Th>When</Th>
                </tr>
              </thead>
              <tbody className="divide-y divide-slate-100">
                {rows.map((s) => (
                  <tr key={s.id}>
                    <Td className="max-w-48 truncate">
                      <Link href={`/users/${encodeURIComponent(s.userId)}`} className="font-mono text-xs text-indigo-700 hover:underline">
                        {s.userId}
                      </Link>
                    </Td>
                    <Td>
                      <Badge tone={sendTone[s.status]}>{s.status}</Badge>
                    </Td>
                    <Td className="hidden max-w-72 truncate text-slate-600 md:table-cell" title={s.reason ?? undefined}>
                      {s.reason ?? "—"}
                    </Td>
                    <Td className="text-right tabular-nums">{s.attempts}</Td>
                    <Td className="whitespace-nowrap text-slate-600">
                      <time dateTime={s.sentAt ?? s.updatedAt} title={formatDateTime(s.sentAt ?? s.updatedAt)}>
                        {relativeTime(s.sentAt ?? s.updatedAt)}
                      </time>
                    </Td>
                  </tr>
                ))}
              </tbody>
            </Table>
            {q.hasNextPage ? (
              <Button variant="secondary" size="sm" onClick={() => void q.fetchNextPage()} disabled={q.isFetchingNextPage}>
                {q.isFetchingNextPage ? "Loading…" : "Load older sends"}
              </Button>
            ) : null}
          </>
        )}
      </CardBody>
    </Card>
  );
}

function AnalyticsCard({ id, live }: { id: string; live: boolean }) {
  const [range, setRange] = useState("1");
  const days = Number(range);
  const q = useQuery({
    queryKey: ["campaign", id, "analytics", days],
    queryFn: () => apiFetch<Analytics>(`/api/v1/campaigns/${id}/analytics?bucket=${days <= 2 ? "hour" : "day"}&days=${days}`),
    refetchInterval: live ? 5_000 : 30_000,
    placeholderData: keepPreviousData,
  });
  const conv = q.data?.conversions;
  return (
    <Card>
      <CardHeader
        title="Delivery over time"
        description={conv ? `Sends by status; a conversion is an order within ${conv.windowHours} h of a sent message` : "Sends by status"}
        actions={
          <label className="flex items-center gap-2 text-sm text-slate-700">
            <span>Period</span>
            <Select value={range} onChange={(e) => setRange(e.target.value)} className="w-auto py-1">
              <option value="1">24 hours</option>
              <option value="7">7 days</option>
              <option value="30">30 days</option>
            </Select>
          </label>
        }
      />
      <CardBody>
        {q.isPending ? (
          <Skeleton className="h-64 w-full" />
        ) : q.isError ? (
          <ErrorState message={errorMessage(q.error)} onRetry={() => void q.refetch()} />
        ) : (
          <>
            <DeliveryChart analytics={q.data} />
            <dl className="mt-4 grid grid-cols-2 gap-3 text-sm sm:grid-cols-3">
              <div>
                <dt className="text-slate-600">Sent in the period</dt>
                <dd className="font-semibold tabular-nums text-slate-900">{formatNumber(q.data.conversions.sent)}</dd>
              </div>
              <div>
                <dt className="text-slate-600">Converted</dt>
                <dd className="font-semibold tabular-nums text-slate-900">{formatNumber(q.data.conversions.converted)}</dd>
              </div>
              <div>
                <dt className="text-slate-600">Conversion rate</dt>
                <dd className="font-semibold tabular-nums text-slate-900">{q.data.conversions.rate === null ? "—" : `${(q.data.conversions.rate * 100).toFixed(1)}%`}</dd>
              </div>
            </dl>
          </>
        )}
      </CardBody>
    </Card>
  );
}

function policySummary(d: Detail): string[] {
  const out: string[] = [];
  if (d.policy.rateLimitPerSecond) out.push(`at most ${d.policy.rateLimitPerSecond} messages per second`);
  if (d.policy.frequencyCap) out.push(`at most ${d.policy.frequencyCap.maxMessages} messages per user in ${d.policy.frequencyCap.windowHours} h (all campaigns)`);
  if (d.policy.quietHours) out.push(`quiet ${d.policy.quietHours.start}–${d.policy.quietHours.end} user time, ${d.policy.quietHours.mode === "defer" ? "sent afterwards" : "not sent"}`);
  return out;
}

export function CampaignDetail({ id, canEdit }: { id: string; canEdit: boolean }) {
  const router = useRouter();
  const qc = useQueryClient();
  const [actionError, setActionError] = useState<string | null>(null);
  const q = useQuery({
    queryKey: ["campaign", id, "detail"],
    queryFn: () => apiFetch<Detail>(`/api/v1/campaigns/${id}`),
    refetchInterval: (query) => {
      const d = query.state.data;
      if (!d) return false;
      return d.runs.some((r) => r.status === "RUNNING" || r.status === "SCHEDULED") || d.delivery.byStatus.queued + d.delivery.byStatus.sending > 0 ? 1_500 : 10_000;
    },
  });
  // When the counts move (a run progressed, a send finished), the list and the chart follow at
  // once instead of on their own, slower schedules, so the page never disagrees with itself.
  const deliveryKey = q.data ? JSON.stringify([q.data.delivery.byStatus, q.data.runs.map((r) => r.status)]) : null;
  useEffect(() => {
    if (deliveryKey === null) return;
    void qc.invalidateQueries({ queryKey: ["campaign", id, "sends"] });
    void qc.invalidateQueries({ queryKey: ["campaign", id, "analytics"] });
  }, [deliveryKey, id, qc]);
  const segment = useQuery({
    queryKey: ["segment", q.data?.segmentId, "name"],
    queryFn: () => apiFetch<{ name: string; active: boolean }>(`/api/v1/segments/${q.data!.segmentId}`),
    enabled: !!q.data,
    retry: false,
  });
  const act = useMutation({
    mutationFn: (a: { kind: "status"; status: "ACTIVE" | "PAUSED" | "COMPLETED" } | { kind: "trigger" } | { kind: "delete" }) =>
      a.kind === "status"
        ? apiFetch(`/api/v1/campaigns/${id}/status`, { method: "PATCH", json: { status: a.status } })
        : a.kind === "trigger"
          ? apiFetch(`/api/v1/campaigns/${id}/trigger`, { method: "POST" })
          : apiFetch(`/api/v1/campaigns/${id}`, { method: "DELETE" }),
    onMutate: () => setActionError(null),
    onSuccess: (_r, a) => {
      void qc.invalidateQueries({ queryKey: ["campaigns"] });
      if (a.kind === "delete") router.push("/campaigns");
      else void qc.invalidateQueries({ queryKey: ["campaign", id] });
    },
    onError: (e) => setActionError(e instanceof ApiError ? e.message : errorMessage(e)),
  });

  if (q.isPending) {
    return (
      <div role="status" aria-label="Loading the campaign" className="space-y-6">
        <Skeleton className="h-9 w-72" />
        <div className="grid gap-4 sm:grid-cols-4">
          {[0, 1, 2, 3].map((i) => (
            <Skeleton key={i} className="h-20" />
          ))}
        </div>
        <Skeleton className="h-80 w-full" />
      </div>
    );
  }
  if (q.isError) return <ErrorState message={errorMessage(q.error)} onRetry={() => void q.refetch()} />;
  const c = q.data;
  const d = c.delivery.byStatus;
  const live = c.status === "ACTIVE";
  const busy = act.isPending;
  const policy = policySummary(c);

  return (
    <>
      <PageHeader
        title={c.name}
        description={
          <span className="flex flex-wrap items-center gap-2">
            <Badge tone={statusTone[c.status]}>{title(c.status)}</Badge>
            <span>
              {channelLabels[c.channelType]} · {triggerLabels[c.trigger].label.toLowerCase()} · segment{" "}
              <Link href={`/segments/${c.segmentId}`} className="font-medium text-indigo-700 hover:underline">
                {segment.data?.name ?? (segment.isError ? "(deleted)" : "…")}
              </Link>{" "}
              · version {c.version}
            </span>
          </span>
        }
        actions={
          canEdit ? (
            <>
              {c.status === "DRAFT" || c.status === "PAUSED" ? (
                <Link href={`/campaigns/${c.id}/edit`} className={buttonClass("secondary")}>
                  Edit
                </Link>
              ) : null}
              {c.status === "DRAFT" ? (
                <Button variant="danger" disabled={busy} onClick={() => window.confirm(`Delete the draft “${c.name}”?`) && act.mutate({ kind: "delete" })}>
                  Delete
                </Button>
              ) : null}
              {c.status === "ACTIVE" || c.status === "PAUSED" ? (
                <Button variant="secondary" disabled={busy} onClick={() => window.confirm(`Complete “${c.name}”? A completed campaign never sends again.`) && act.mutate({ kind: "status", status: "COMPLETED" })}>
                  Complete
                </Button>
              ) : null}
              {c.status === "ACTIVE" ? (
                <Button variant="secondary" disabled={busy} onClick={() => act.mutate({ kind: "status", status: "PAUSED" })}>
                  Pause
                </Button>
              ) : null}
              {c.status === "ACTIVE" && c.trigger === "BATCH" ? (
                <Button disabled={busy} onClick={() => act.mutate({ kind: "trigger" })}>
                  Run now
                </Button>
              ) : null}
              {c.status === "DRAFT" || c.status === "PAUSED" ? (
                <Button disabled={busy} onClick={() => act.mutate({ kind: "status", status: "ACTIVE" })}>
                  {c.status === "DRAFT" ? "Activate" : "Resume"}
                </Button>
              ) : null}
            </>
          ) : null
        }
      />
      {actionError ? (
        <div role="alert" className="mb-6 rounded-md border border-red-200 bg-red-50 px-4 py-3 text-sm text-red-900">
          <p className="font-semibold">The campaign was not changed</p>
          <p className="mt-0.5">{actionError}</p>
        </div>
      ) : null}

      <div className="mb-6 grid grid-cols-2 gap-4 lg:grid-cols-4">
        <Stat label="Sent" value={formatNumber(d.sent)} hint={`of ${formatNumber(c.delivery.total)} ${c.delivery.total === 1 ? "send" : "sends"}`} />
        <Stat label="In flight" value={formatNumber(d.queued + d.sending)} hint="queued, deferred or sending" />
        <Stat label="Skipped" value={formatNumber(d.skipped)} hint="policy, missing address or variable" />
        <Stat label="Failed" value={formatNumber(d.failed)} hint="after retries" />
      </div>

      <div className="grid gap-6 lg:grid-cols-3">
        <div className="space-y-6 lg:col-span-2">
          {c.trigger === "BATCH" ? (
            <Card>
              <CardHeader title="Batch runs" description={c.scheduledAt ? `Scheduled for ${formatDateTime(c.scheduledAt)}` : "Started by hand with “Run now”"} />
              <CardBody>
                {c.runs.length === 0 ? (
                  <p className="text-sm text-slate-600">{c.status === "ACTIVE" ? "No runs yet. “Run now” sends to every current member." : "No runs yet. Activate the campaign to run it."}</p>
                ) : (
                  <ul className="-my-3 divide-y divide-slate-100">
                    {c.runs.map((r) => (
                      <RunRow key={r.id} run={r} />
                    ))}
                  </ul>
                )}
              </CardBody>
            </Card>
          ) : null}
          <AnalyticsCard id={c.id} live={live} />
          <Sends id={c.id} live={live || c.runs.some((r) => r.status === "RUNNING")} />
        </div>
        <div className="space-y-6">
          <Card>
            <CardHeader title="Message" />
            <CardBody className="space-y-3 text-sm">
              {c.subject ? (
                <div>
                  <p className="text-xs font-medium uppercase tracking-wide text-slate-600">Subject</p>
                  <p className="mt-0.5 break-words font-mono text-xs text-slate-900">{c.subject}</p>
                </div>
              ) : null}
              <div>
                <p className="text-xs font-medium uppercase tracking-wide text-slate-600">Template</p>
                <pre className="mt-1 max-h-64 overflow-auto whitespace-pre-wrap break-words rounded-md bg-slate-50 p-2 font-mono text-xs text-slate-900">{c.template}</pre>
              </div>
            </CardBody>
          </Card>
          <Card>
            <CardHeader title="Policy" />
            <CardBody className="text-sm text-slate-800">
              {policy.length === 0 ? (
                <p className="text-slate-600">No limits: sends as soon as users qualify.</p>
              ) : (
                <ul className="list-disc space-y-1 pl-5">
                  {policy.map((p) => (
                    <li key={p}>{p}</li>
                  ))}
                </ul>
              )}
            </CardBody>
          </Card>
          <Card>
            <CardHeader title="Sends by status" />
            <CardBody>
              <ul className="space-y-2 text-sm">
                {SEND_STATUSES.map((s) => (
                  <li key={s} className="flex items-center justify-between">
                    <span className="flex items-center gap-2">
                      <span aria-hidden className="h-2.5 w-2.5 rounded-sm" style={{ background: sendStatusColors[s] }} />
                      {title(s)}
                    </span>
                    <span className="tabular-nums font-medium">{formatNumber(d[s])}</span>
                  </li>
                ))}
              </ul>
            </CardBody>
          </Card>
        </div>
      </div>
    </>
  );
}
