"use client";
import Link from "next/link";
import { useCallback, useId, useMemo, useRef, useState } from "react";
import { keepPreviousData, useInfiniteQuery, useQuery, useQueryClient } from "@tanstack/react-query";
import { Badge, Button, Card, CardBody, CardHeader, ErrorState, Field, LoadingRows, PageHeader, Select, Skeleton, buttonClass } from "@/components/ui";
import { eventTypeLabels, formatDateTime, relativeTime } from "@/components/segments/format";
import type { SegmentPage } from "@/components/segments/types";
import { apiFetch, errorMessage } from "@/lib/ui/api";
import { useRealtime, type RealtimeStatus } from "@/lib/ui/realtime";
import type { UserChannelMessage } from "@/lib/realtime/messages";
import { ExplainView } from "./explain-view";
import { ProfileCard } from "./profile-card";
import { causeLabels, type CurrentSegment, type Explanation, type HistoryPage, type UserEventsPage, type UserSegments } from "./types";

/** Without the WebSocket, poll this often. */
const POLL_MS = 5_000;

const base = (userId: string) => `/api/v1/users/${encodeURIComponent(userId)}`;

function LiveBadge({ status }: { status: RealtimeStatus }) {
  const live = status === "live";
  return (
    <span className="inline-flex items-center gap-1.5 text-xs font-medium text-slate-700" role="status">
      <span aria-hidden className={`h-2 w-2 rounded-full ${live ? "bg-emerald-500" : "bg-amber-500"}`} />
      {live ? "Live" : status === "closed" ? `Refreshing every ${POLL_MS / 1000} s` : "Connecting…"}
    </span>
  );
}

function ExplainPanel({ userId, segmentId, isMember, id }: { userId: string; segmentId: string; isMember: boolean; id?: string }) {
  const q = useQuery({
    queryKey: ["user", userId, "explain", segmentId],
    queryFn: () => apiFetch<Explanation>(`${base(userId)}/segments/${segmentId}/explain`),
    placeholderData: keepPreviousData,
  });
  return (
    <div id={id} className="mt-3 rounded-md border border-slate-200 bg-white p-3">
      {q.isPending ? (
        <div role="status" aria-label="Loading the explanation" className="space-y-2">
          <Skeleton className="h-5 w-1/2" />
          <Skeleton className="h-8 w-full" />
        </div>
      ) : q.isError ? (
        <ErrorState title="Could not explain this segment" message={errorMessage(q.error)} onRetry={() => void q.refetch()} />
      ) : (
        <ExplainView explanation={q.data} isMember={isMember} />
      )}
    </div>
  );
}

function SegmentRow({ userId, s, fresh }: { userId: string; s: CurrentSegment; fresh: boolean }) {
  const [open, setOpen] = useState(false);
  const panel = useId();
  return (
    <li className="py-3">
      <div className="flex flex-wrap items-center justify-between gap-2">
        <div className="min-w-0">
          <Link href={`/segments/${s.segmentId}`} className="font-medium text-slate-900 hover:text-indigo-700 hover:underline">
            {s.name ?? s.segmentId}
          </Link>
          {fresh ? (
            <Badge tone="green" className="ml-2">
              just entered
            </Badge>
          ) : null}
          <p className="text-xs text-slate-600">
            in since <time dateTime={s.enteredAt}>{formatDateTime(s.enteredAt)}</time> ({relativeTime(s.enteredAt)}) · version {s.version}
          </p>
        </div>
        <Button size="sm" variant="secondary" aria-expanded={open} aria-controls={panel} onClick={() => setOpen(!open)}>
          {open ? "Hide explanation" : `Explain`}
          <span className="sr-only"> {s.name ?? s.segmentId}</span>
        </Button>
      </div>
      {open ? <ExplainPanel userId={userId} segmentId={s.segmentId} isMember id={panel} /> : null}
    </li>
  );
}

function OtherSegmentExplain({ userId, memberOf }: { userId: string; memberOf: ReadonlySet<string> }) {
  const [segmentId, setSegmentId] = useState("");
  const all = useQuery({
    queryKey: ["segments", "names"],
    queryFn: () => apiFetch<SegmentPage>(`/api/v1/segments?pageSize=100`),
    staleTime: 30_000,
  });
  const options = (all.data?.data ?? []).filter((s) => !memberOf.has(s.id));
  return (
    <div className="border-t border-slate-100 pt-4">
      <Field label="Why not in another segment?" hint="Explain any segment for this user, member or not.">
        <Select value={segmentId} onChange={(e) => setSegmentId(e.target.value)} disabled={!all.isSuccess}>
          <option value="">{all.isPending ? "Loading segments…" : options.length === 0 ? "No other segments" : "Choose a segment"}</option>
          {options.map((s) => (
            <option key={s.id} value={s.id}>
              {s.name}
              {s.active ? "" : " (inactive)"}
            </option>
          ))}
        </Select>
      </Field>
      {segmentId ? <ExplainPanel userId={userId} segmentId={segmentId} isMember={false} /> : null}
    </div>
  );
}

function CurrentSegments({ userId, live }: { userId: string; live: { status: RealtimeStatus; fresh: ReadonlySet<string> } }) {
  const q = useQuery({
    queryKey: ["user", userId, "segments"],
    queryFn: () => apiFetch<UserSegments>(`${base(userId)}/segments`),
    refetchInterval: live.status === "live" ? false : POLL_MS,
  });
  const memberOf = useMemo(() => new Set((q.data?.segments ?? []).map((s) => s.segmentId)), [q.data]);
  const count = q.data?.segments.length;
  return (
    <Card>
      <CardHeader
        title="Current segments"
        description={count === undefined ? "Where the engine has the user right now" : `${count} segment${count === 1 ? "" : "s"} right now`}
        actions={<LiveBadge status={live.status} />}
      />
      <CardBody>
        {q.isPending ? (
          <LoadingRows rows={3} label="Loading the user's segments" />
        ) : q.isError ? (
          <ErrorState message={errorMessage(q.error)} onRetry={() => void q.refetch()} />
        ) : q.data.segments.length === 0 ? (
          <p className="pb-3 text-sm text-slate-600">Not in any segment right now. Events sent for this user are evaluated as they arrive.</p>
        ) : (
          <ul className="-mt-3 divide-y divide-slate-100">
            {[...q.data.segments]
              .sort((a, b) => b.enteredAt.localeCompare(a.enteredAt))
              .map((s) => (
                <SegmentRow key={s.segmentId} userId={userId} s={s} fresh={live.fresh.has(s.segmentId)} />
              ))}
          </ul>
        )}
        {q.isSuccess ? <OtherSegmentExplain userId={userId} memberOf={memberOf} /> : null}
      </CardBody>
    </Card>
  );
}

interface TimelineItem {
  key: string;
  kind: "enter" | "exit";
  at: string;
  segmentId: string;
  segmentName: string | null;
  cause: keyof typeof causeLabels;
  version: number;
}

function Timeline({ userId, live }: { userId: string; live: boolean }) {
  const q = useInfiniteQuery({
    queryKey: ["user", userId, "history"],
    initialPageParam: null as string | null,
    queryFn: ({ pageParam }) => apiFetch<HistoryPage>(`${base(userId)}/segments/history?limit=25${pageParam ? `&before=${encodeURIComponent(pageParam)}` : ""}`),
    getNextPageParam: (last) => last.next,
    refetchInterval: live ? false : POLL_MS * 2,
  });
  const items = useMemo(() => {
    const out: TimelineItem[] = [];
    for (const r of q.data?.pages.flatMap((p) => p.data) ?? []) {
      const common = { segmentId: r.segmentId, segmentName: r.segmentName, version: r.definitionVersion };
      out.push({ ...common, key: `${r.segmentId}|${r.enteredAt}|in`, kind: "enter", at: r.enteredAt, cause: r.enterCause });
      if (r.exitedAt && r.exitCause) out.push({ ...common, key: `${r.segmentId}|${r.enteredAt}|out`, kind: "exit", at: r.exitedAt, cause: r.exitCause });
    }
    return out.sort((a, b) => b.at.localeCompare(a.at) || (a.kind === "exit" ? -1 : 1));
  }, [q.data]);
  return (
    <Card>
      <CardHeader title="Timeline" description="Entries and exits, newest first, with what caused them" />
      <CardBody>
        {q.isPending ? (
          <LoadingRows rows={4} label="Loading the timeline" />
        ) : q.isError ? (
          <ErrorState message={errorMessage(q.error)} onRetry={() => void q.refetch()} />
        ) : items.length === 0 ? (
          <p className="text-sm text-slate-600">No entries or exits recorded for this user.</p>
        ) : (
          <>
            <ol className="relative ml-1.5 border-l border-slate-200" aria-label="Segment entries and exits">
              {items.map((i) => (
                <li key={i.key} className="relative pb-4 pl-5 last:pb-0">
                  <span
                    aria-hidden
                    className={`absolute -left-[5px] top-1.5 h-2.5 w-2.5 rounded-full ring-2 ring-white ${i.kind === "enter" ? "bg-emerald-500" : "bg-slate-400"}`}
                  />
                  <p className="text-sm text-slate-900">
                    <span className="font-medium">{i.kind === "enter" ? "Entered" : "Left"}</span>{" "}
                    <Link href={`/segments/${i.segmentId}`} className="font-medium text-indigo-700 hover:underline">
                      {i.segmentName ?? i.segmentId.slice(0, 8)}
                    </Link>
                    <span className="text-slate-600"> — {causeLabels[i.cause]}</span>
                  </p>
                  <p className="text-xs text-slate-600">
                    <time dateTime={i.at}>{formatDateTime(i.at)}</time> · {relativeTime(i.at)} · version {i.version}
                  </p>
                </li>
              ))}
            </ol>
            {q.hasNextPage ? (
              <Button variant="secondary" size="sm" className="mt-4" onClick={() => void q.fetchNextPage()} disabled={q.isFetchingNextPage}>
                {q.isFetchingNextPage ? "Loading…" : "Load older entries"}
              </Button>
            ) : null}
          </>
        )}
      </CardBody>
    </Card>
  );
}

function RecentEvents({ userId }: { userId: string }) {
  const [limit, setLimit] = useState(20);
  const q = useQuery({
    queryKey: ["user", userId, "events", limit],
    queryFn: () => apiFetch<UserEventsPage>(`${base(userId)}/events?limit=${limit}`),
    refetchInterval: POLL_MS,
    placeholderData: keepPreviousData,
  });
  return (
    <Card>
      <CardHeader title="Recent events" description="The last 24 hours, newest first, once evaluated" />
      <CardBody>
        {q.isPending ? (
          <LoadingRows rows={5} label="Loading recent events" />
        ) : q.isError ? (
          <ErrorState message={errorMessage(q.error)} onRetry={() => void q.refetch()} />
        ) : q.data.data.length === 0 ? (
          <p className="text-sm text-slate-600">No events in the last 24 hours.</p>
        ) : (
          <>
            <ul className="divide-y divide-slate-100" aria-label="Recent events">
              {q.data.data.map((e) => {
                const attrs = Object.keys(e.attributes).length > 0 ? JSON.stringify(e.attributes) : null;
                return (
                  <li key={e.eventId} className="py-2">
                    <div className="flex items-baseline justify-between gap-2">
                      <span className="text-sm font-medium text-slate-900">{eventTypeLabels[e.eventType] ?? e.eventType}</span>
                      <time dateTime={e.timestamp} className="shrink-0 text-xs text-slate-600" title={formatDateTime(e.timestamp)}>
                        {relativeTime(e.timestamp)}
                      </time>
                    </div>
                    {attrs ? (
                      <p className="truncate font-mono text-xs text-slate-600" title={attrs}>
                        {attrs}
                      </p>
                    ) : null}
                  </li>
                );
              })}
            </ul>
            {q.data.data.length >= limit && limit < 500 ? (
              <Button variant="secondary" size="sm" className="mt-3" onClick={() => setLimit(limit === 20 ? 100 : 500)} disabled={q.isFetching}>
                Show more
              </Button>
            ) : null}
          </>
        )}
      </CardBody>
    </Card>
  );
}

/** One user: profile, segments with explanations, the entry/exit timeline and recent events; live over the WebSocket. */
export function UserDetail({ userId, canEdit }: { userId: string; canEdit: boolean }) {
  const qc = useQueryClient();
  const [fresh, setFresh] = useState<ReadonlySet<string>>(new Set());
  const refresh = useRef<ReturnType<typeof setTimeout> | null>(null);
  const onMessage = useCallback(
    (m: UserChannelMessage) => {
      if (m.type === "snapshot") {
        qc.setQueryData<UserSegments>(["user", userId, "segments"], { userId: m.userId, segments: m.segments });
      } else if (m.type === "transition") {
        setFresh((prev) => {
          const next = new Set(prev);
          if (m.kind === "enter") next.add(m.segmentId);
          else next.delete(m.segmentId);
          return next;
        });
        // A burst of transitions refreshes the timeline, events and explanations once.
        if (refresh.current) clearTimeout(refresh.current);
        refresh.current = setTimeout(() => {
          void qc.invalidateQueries({ queryKey: ["user", userId, "history"] });
          void qc.invalidateQueries({ queryKey: ["user", userId, "explain"] });
          void qc.invalidateQueries({ queryKey: ["user", userId, "events"] });
        }, 300);
        // The archive is written in the background, shortly after the transition: look again.
        setTimeout(() => void qc.invalidateQueries({ queryKey: ["user", userId, "events"] }), 1_500);
      }
    },
    [qc, userId],
  );
  const status = useRealtime<UserChannelMessage>(`/ws/users/${encodeURIComponent(userId)}/segments`, onMessage);

  return (
    <>
      <PageHeader
        title={
          <>
            <span className="sr-only">User </span>
            <span className="break-all font-mono text-xl">{userId}</span>
          </>
        }
        description="Profile, segments with the reasons, entries and exits, and recent events"
        actions={
          <Link href="/users" className={buttonClass("secondary")}>
            Look up another user
          </Link>
        }
      />
      <div className="grid gap-6 lg:grid-cols-3">
        <div className="space-y-6 lg:col-span-2">
          <CurrentSegments userId={userId} live={{ status, fresh }} />
          <Timeline userId={userId} live={status === "live"} />
        </div>
        <div className="space-y-6">
          <ProfileCard userId={userId} canEdit={canEdit} />
          <RecentEvents userId={userId} />
        </div>
      </div>
    </>
  );
}

