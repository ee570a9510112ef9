"use client";
import Link from "next/link";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { Card, CardBody, CardHeader, ErrorState, PageHeader, Skeleton } from "@/components/ui";
import { formatNumber, relativeTime } from "@/components/segments/format";
import { SEND_STATUSES, sendStatusColors } from "@/components/campaigns/types";
import { apiFetch, errorMessage } from "@/lib/ui/api";
import { EventsChart, TransitionsChart } from "./charts";
import type { Overview } from "./types";

const REFRESH_MS = 5_000;

function ms(v: number): string {
  if (v < 1000) return `${Math.round(v)} ms`;
  if (v < 60_000) return `${(v / 1000).toFixed(v < 10_000 ? 2 : 1)} s`;
  return `${(v / 60_000).toFixed(1)} min`;
}

const rate = (v: number) => (v === 0 ? "0" : v < 10 ? v.toFixed(2) : formatNumber(Math.round(v)));

/** Where a figure comes from, in the card's footer. */
function Source({ children }: { children: React.ReactNode }) {
  return <p className="mt-3 border-t border-slate-100 pt-2 text-xs text-slate-600">{children}</p>;
}

function Figure({ label, value, detail, source }: { label: string; value: React.ReactNode; detail?: React.ReactNode; source: React.ReactNode }) {
  return (
    <Card className="flex flex-col px-4 py-3">
      <p className="text-xs font-medium uppercase tracking-wide text-slate-600">{label}</p>
      <p className="mt-1 text-3xl font-semibold tabular-nums tracking-tight text-slate-950">{value}</p>
      <p className="mt-0.5 min-h-5 text-sm text-slate-700">{detail}</p>
      <div className="mt-auto">
        <Source>{source}</Source>
      </div>
    </Card>
  );
}

function BarList({ rows, empty }: { rows: { key: string; label: React.ReactNode; value: number; text: string; color?: string }[]; empty: string }) {
  if (rows.length === 0) return <p className="py-6 text-center text-sm text-slate-600">{empty}</p>;
  const max = Math.max(1, ...rows.map((r) => r.value));
  return (
    <ul className="space-y-3">
      {rows.map((r) => (
        <li key={r.key}>
          <div className="mb-1 flex items-baseline justify-between gap-3 text-sm">
            <span className="min-w-0 truncate">{r.label}</span>
            <span className="shrink-0 tabular-nums font-medium text-slate-900">{r.text}</span>
          </div>
          <div aria-hidden className="h-1.5 rounded-full bg-slate-100">
            <div className="h-full rounded-full" style={{ width: `${(r.value / max) * 100}%`, background: r.color ?? "#4f46e5" }} />
          </div>
        </li>
      ))}
    </ul>
  );
}

function Loading() {
  return (
    <div role="status" aria-label="Loading the dashboard" className="space-y-6">
      <div className="grid gap-4 sm:grid-cols-2 lg:grid-cols-4">
        {[0, 1, 2, 3].map((i) => (
          <Skeleton key={i} className="h-40" />
        ))}
      </div>
      <div className="grid gap-6 md:grid-cols-2">
        <Skeleton className="h-72" />
        <Skeleton className="h-72" />
      </div>
      <div className="grid gap-6 md:grid-cols-2">
        <Skeleton className="h-64" />
        <Skeleton className="h-64" />
      </div>
    </div>
  );
}

export function Dashboard() {
  const q = useQuery({
    queryKey: ["stats", "overview"],
    queryFn: () => apiFetch<Overview>("/api/v1/stats/overview"),
    refetchInterval: REFRESH_MS,
    placeholderData: keepPreviousData,
  });
  const o = q.data;
  return (
    <>
      <PageHeader
        title="Dashboard"
        description={
          o ? (
            <>
              What the pipeline is doing, read from its own tables every {REFRESH_MS / 1000} s · as of{" "}
              <time dateTime={o.at}>{new Date(o.at).toLocaleTimeString("en-US", { hour12: false })}</time>
            </>
          ) : (
            "What the pipeline is doing, read from its own tables"
          )
        }
      />
      {q.isPending ? (
        <Loading />
      ) : q.isError && !o ? (
        <ErrorState title="Could not load the dashboard" message={errorMessage(q.error)} onRetry={() => void q.refetch()} />
      ) : o ? (
        <div className="space-y-6">
          {q.isError ? (
            <p role="status" className="rounded-md border border-amber-200 bg-amber-50 px-4 py-2 text-sm text-amber-900">
              Refreshing failed ({errorMessage(q.error)}); showing figures as of {new Date(o.at).toLocaleTimeString("en-US", { hour12: false })}.
            </p>
          ) : null}
          <div className="grid gap-4 sm:grid-cols-2 lg:grid-cols-4">
            <Figure
              label="Events ingested"
              value={
                <>
                  {rate(o.ingestion.eventsPerSecond)}
                  <span className="ml-1 text-base font-medium text-slate-600">/s</span>
                </>
              }
              detail={`${formatNumber(o.ingestion.eventsInWindow)} in the last ${o.windows.eventsSeconds} s`}
              source="Event archive: events received in the window, counted once the processor has evaluated them."
            />
            <Figure
              label="Evaluation lag"
              value={o.evaluationLag ? ms(o.evaluationLag.p50Ms) : "idle"}
              detail={
                o.evaluationLag
                  ? `p95 ${ms(o.evaluationLag.p95Ms)} · max ${ms(o.evaluationLag.maxMs)}`
                  : o.ingestion.lastEvaluatedAt
                    ? `last event evaluated ${relativeTime(o.ingestion.lastEvaluatedAt)}`
                    : "no events evaluated yet"
              }
              source={`Median time from ingestion until an event is evaluated and archived (the archive write trails evaluation by up to 0.1 s)${o.evaluationLag ? `, over the ${formatNumber(o.evaluationLag.events)} events archived in the last ${o.windows.lagSeconds} s` : `; no event was archived in the last ${o.windows.lagSeconds} s`}.`}
            />
            <Figure
              label="Transitions"
              value={
                <>
                  {rate(o.transitions.perMinute)}
                  <span className="ml-1 text-base font-medium text-slate-600">/min</span>
                </>
              }
              detail={`${formatNumber(o.transitions.inWindow)} entries and exits in ${o.windows.transitionsMinutes} min`}
              source="Membership history: entries and exits recorded by the segment processor."
            />
            <Figure
              label="Messages sent"
              value={formatNumber(o.sends.byStatus.sent)}
              detail={`${formatNumber(o.sends.byStatus.queued + o.sends.byStatus.sending)} in flight · ${formatNumber(o.sends.byStatus.failed)} failed`}
              source="Campaign sends: every message recorded by the dispatchers, all time."
            />
          </div>

          <div className="grid gap-6 md:grid-cols-2">
            <Card>
              <CardHeader title="Events ingested per minute" description={`Last ${o.windows.seriesMinutes} minutes, by time of ingestion`} />
              <CardBody>
                <EventsChart data={o.ingestion.perMinute} />
                <Source>Event archive (user_events), counted once evaluated.</Source>
              </CardBody>
            </Card>
            <Card>
              <CardHeader title="Segment entries and exits per minute" description={`Last ${o.windows.seriesMinutes} minutes, all segments`} />
              <CardBody>
                <TransitionsChart data={o.transitions.series} />
                <Source>Membership history (user_segment_history).</Source>
              </CardBody>
            </Card>
          </div>

          <div className="grid gap-6 md:grid-cols-2">
            <Card>
              <CardHeader title="Largest segments" description={`Current members · ${o.segments.active} active of ${o.segments.live} segments`} />
              <CardBody>
                <BarList
                  empty="No segment has members yet."
                  rows={o.segments.largest.map((s) => ({
                    key: s.id,
                    label: (
                      <Link href={`/segments/${s.id}`} className="font-medium text-slate-900 hover:text-indigo-700 hover:underline">
                        {s.name}
                      </Link>
                    ),
                    value: s.members,
                    text: formatNumber(s.members),
                  }))}
                />
                <Source>Membership store: current members of each active segment.</Source>
              </CardBody>
            </Card>
            <Card>
              <CardHeader title="Fastest-growing segments" description={`Net entries in the last ${o.windows.growthMinutes} minutes`} />
              <CardBody>
                <BarList
                  empty={`No segment grew in the last ${o.windows.growthMinutes} minutes.`}
                  rows={o.segments.fastestGrowing.map((s) => ({
                    key: s.id,
                    label: (
                      <>
                        <Link href={`/segments/${s.id}`} className="font-medium text-slate-900 hover:text-indigo-700 hover:underline">
                          {s.name}
                        </Link>
                        <span className="ml-2 text-xs text-slate-600">
                          {formatNumber(s.entries)} in, {formatNumber(s.exits)} out
                        </span>
                      </>
                    ),
                    value: s.net,
                    color: "#059669",
                    text: `+${formatNumber(s.net)}${s.growthPercent === null ? " (new)" : ` (${s.growthPercent >= 10 ? Math.round(s.growthPercent) : s.growthPercent.toFixed(1)}%)`}`,
                  }))}
                />
                <Source>Membership history: entries minus exits; the percentage is against the size an hour ago.</Source>
              </CardBody>
            </Card>
          </div>

          <div className="grid gap-6 md:grid-cols-2">
            <Card>
              <CardHeader title="Sends by status" description={`${formatNumber(o.sends.total)} messages in all`} />
              <CardBody>
                <BarList
                  empty="No campaign has sent anything yet."
                  rows={
                    o.sends.total === 0
                      ? []
                      : SEND_STATUSES.map((s) => ({
                          key: s,
                          label: <span className="capitalize text-slate-800">{s}</span>,
                          value: o.sends.byStatus[s],
                          color: sendStatusColors[s],
                          text: formatNumber(o.sends.byStatus[s]),
                        }))
                  }
                />
                <Source>Campaign sends (campaign_sends), all campaigns.</Source>
              </CardBody>
            </Card>
            <Card>
              <CardHeader title="Segment processor" description={`Consumer group ${o.processor.group}`} />
              <CardBody>
                <dl className="grid grid-cols-[1fr_auto] gap-x-4 gap-y-2 text-sm">
                  <dt className="text-slate-600">Partitions checkpointed</dt>
                  <dd className="text-right tabular-nums text-slate-900">{o.processor.checkpoint ? o.processor.checkpoint.partitions : "none yet"}</dd>
                  <dt className="text-slate-600">Last checkpoint</dt>
                  <dd className="text-right text-slate-900">{o.processor.checkpoint ? relativeTime(o.processor.checkpoint.newest, new Date(o.at).getTime()) : "—"}</dd>
                  <dt className="text-slate-600">Oldest partition checkpoint</dt>
                  <dd className="text-right text-slate-900">{o.processor.checkpoint ? relativeTime(o.processor.checkpoint.oldest, new Date(o.at).getTime()) : "—"}</dd>
                  {o.processor.inProcess ? (
                    <>
                      <dt className="text-slate-600">Events waiting to be evaluated</dt>
                      <dd className="text-right tabular-nums text-slate-900">{o.processor.inProcess.backlog === null ? "—" : formatNumber(o.processor.inProcess.backlog)}</dd>
                      <dt className="text-slate-600">Users held in this process</dt>
                      <dd className="text-right tabular-nums text-slate-900">{formatNumber(o.processor.inProcess.users)}</dd>
                      <dt className="text-slate-600">Users awaiting re-evaluation</dt>
                      <dd className="text-right tabular-nums text-slate-900">{formatNumber(o.processor.inProcess.usersToEvaluate)}</dd>
                      <dt className="text-slate-600">Dead-lettered messages</dt>
                      <dd className="text-right tabular-nums text-slate-900">{formatNumber(o.processor.inProcess.deadLetters)}</dd>
                    </>
                  ) : null}
                  <dt className="text-slate-600">Definition changes waiting to publish</dt>
                  <dd className="text-right tabular-nums text-slate-900">
                    {formatNumber(o.outbox.pending)}
                    {o.outbox.oldest ? <span className="text-slate-600"> (oldest {relativeTime(o.outbox.oldest, new Date(o.at).getTime())})</span> : null}
                  </dd>
                </dl>
                <Source>
                  Checkpoints table (state saved with the offsets it covers), the outbox
                  {o.processor.inProcess ? ", and the processor running in this web process (its consumer lag on user-events)" : "; processors run as separate workers"}.
                </Source>
              </CardBody>
            </Card>
          </div>
        </div>
      ) : null}
    </>
  );
}
