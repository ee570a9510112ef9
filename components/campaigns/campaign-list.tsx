"use client";
import Link from "next/link";
import { useMemo, useState } from "react";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { Badge, Button, EmptyState, ErrorState, Field, LoadingRows, PageHeader, Select, Table, Td, Th, buttonClass } from "@/components/ui";
import { formatDateTime } from "@/components/segments/format";
import type { SegmentPage } from "@/components/segments/types";
import { apiFetch, errorMessage } from "@/lib/ui/api";
import { channelLabels, statusTone, triggerLabels, type CampaignPage } from "./types";

const PAGE_SIZE = 20;

export function CampaignList({ canEdit }: { canEdit: boolean }) {
  const [status, setStatus] = useState("");
  const [channel, setChannel] = useState("");
  const [page, setPage] = useState(1);
  const params = new URLSearchParams({ page: String(page), pageSize: String(PAGE_SIZE) });
  if (status) params.set("status", status);
  if (channel) params.set("channelType", channel);
  const list = useQuery({
    queryKey: ["campaigns", "list", params.toString()],
    queryFn: () => apiFetch<CampaignPage>(`/api/v1/campaigns?${params}`),
    placeholderData: keepPreviousData,
    refetchInterval: 15_000,
  });
  const segments = useQuery({
    queryKey: ["segments", "names"],
    queryFn: () => apiFetch<SegmentPage>(`/api/v1/segments?pageSize=100`),
    staleTime: 30_000,
  });
  const names = useMemo(() => new Map((segments.data?.data ?? []).map((s) => [s.id, s.name])), [segments.data]);
  const filtered = status !== "" || channel !== "";

  return (
    <>
      <PageHeader
        title="Campaigns"
        description="Messages sent when users enter or leave a segment, or to every member in a batch run."
        actions={
          canEdit ? (
            <Link href="/campaigns/new" className={buttonClass("primary")}>
              New campaign
            </Link>
          ) : null
        }
      />
      <div className="mb-4 grid gap-3 sm:grid-cols-[12rem_12rem]">
        <Field label="Status">
          <Select
            value={status}
            onChange={(e) => {
              setStatus(e.target.value);
              setPage(1);
            }}
          >
            <option value="">All statuses</option>
            {Object.keys(statusTone).map((s) => (
              <option key={s} value={s}>
                {s.charAt(0) + s.slice(1).toLowerCase()}
              </option>
            ))}
          </Select>
        </Field>
        <Field label="Channel">
          <Select
            value={channel}
            onChange={(e) => {
              setChannel(e.target.value);
              setPage(1);
            }}
          >
            <option value="">All channels</option>
            {Object.entries(channelLabels).map(([v, l]) => (
              <option key={v} value={v}>
                {l}
              </option>
            ))}
          </Select>
        </Field>
      </div>
      {list.isPending ? (
        <LoadingRows rows={6} label="Loading campaigns" />
      ) : list.isError ? (
        <ErrorState message={errorMessage(list.error)} onRetry={() => void list.refetch()} />
      ) : list.data.data.length === 0 ? (
        <EmptyState
          title={filtered ? "No campaigns match" : "No campaigns yet"}
          description={filtered ? "Try another status or channel." : "A campaign sends an email, push or SMS to a segment's users."}
          action={
            canEdit && !filtered ? (
              <Link href="/campaigns/new" className={buttonClass("primary")}>
                Create the first campaign
              </Link>
            ) : null
          }
        />
      ) : (
        <>
          <Table>
            <thead>
              <tr>
                <Th>Name</Th>
                <Th>Status</Th>
                <Th>Channel</Th>
                <Th>Trigger</Th>
                <Th>Segment</Th>
                <Th className="hidden md:table-cell">Updated</Th>
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100">
              {list.data.data.map((c) => (
                <tr key={c.id} className="hover:bg-slate-50">
                  <Td>
                    <Link href={`/campaigns/${c.id}`} className="font-medium text-slate-900 hover:text-indigo-700 hover:underline">
                      {c.name}
                    </Link>
                  </Td>
                  <Td>
                    <Badge tone={statusTone[c.status]}>{c.status.charAt(0) + c.status.slice(1).toLowerCase()}</Badge>
                  </Td>
                  <Td>{channelLabels[c.channelType]}</Td>
                  <Td>{triggerLabels[c.trigger].label}</Td>
                  <Td className="max-w-56 truncate">{names.get(c.segmentId) ?? <span className="text-slate-500">{c.segmentId.slice(0, 8)}…</span>}</Td>
                  <Td className="hidden whitespace-nowrap text-slate-600 md:table-cell">{formatDateTime(c.updatedAt)}</Td>
                </tr>
              ))}
            </tbody>
          </Table>
          <nav aria-label="Pages" className="mt-4 flex items-center justify-between text-sm text-slate-700">
            <span>
              {list.data.pagination.total} campaign{list.data.pagination.total === 1 ? "" : "s"} · page {list.data.pagination.page} of {list.data.pagination.totalPages}
            </span>
            <div className="flex gap-2">
              <Button variant="secondary" size="sm" disabled={page <= 1} onClick={() => setPage(page - 1)}>
                Previous
              </Button>
              <Button variant="secondary" size="sm" disabled={page >= list.data.pagination.totalPages} onClick={() => setPage(page + 1)}>
                Next
              </Button>
            </div>
          </nav>
        </>
      )}
    </>
  );
}
