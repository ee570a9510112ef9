"use client";
import { useDebounced } from "@/components/ui/use-debounced";
import Link from "next/link";
import { useMemo, useState } from "react";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { Badge, Button, EmptyState, ErrorState, Field, Input, LoadingRows, PageHeader, Select, Table, Td, Th, buttonClass } from "@/components/ui";
import { Sparkline } from "@/components/segments/sparkline";
import { describeRule, expressionWithNames, formatNumber } from "@/components/segments/format";
import type { ApiSegment, SegmentActivity, SegmentPage } from "@/components/segments/types";
import { apiFetch, errorMessage } from "@/lib/ui/api";

const PAGE_SIZE = 20;
/** Member counts and sparklines refresh this often while the tab is visible. */
const LIVE_MS = 3_000;

function definitionText(s: ApiSegment, names: ReadonlyMap<string, string>) {
  if (s.type === "DERIVED") return expressionWithNames(s.logicalExpression ?? "", names);
  return s.rules.map(describeRule).join(" AND ");
}

export function SegmentsList({ canEdit }: { canEdit: boolean }) {
  const [search, setSearch] = useState("");
  const [type, setType] = useState("");
  const [status, setStatus] = useState("");
  const [page, setPage] = useState(1);
  const q = useDebounced(search.trim(), 250);

  const params = new URLSearchParams({ page: String(page), pageSize: String(PAGE_SIZE) });
  if (q) params.set("search", q);
  if (type) params.set("type", type);
  if (status) params.set("active", status === "active" ? "true" : "false");
  const list = useQuery({
    queryKey: ["segments", "list", params.toString()],
    queryFn: () => apiFetch<SegmentPage>(`/api/v1/segments?${params}`),
    placeholderData: keepPreviousData,
    refetchInterval: 15_000,
  });
  // Names of every segment (first 100) to show derived expressions readably.
  const all = useQuery({
    queryKey: ["segments", "names"],
    queryFn: () => apiFetch<SegmentPage>(`/api/v1/segments?pageSize=100`),
    staleTime: 30_000,
  });
  const names = useMemo(() => new Map((all.data?.data ?? []).map((s) => [s.id, s.name])), [all.data]);

  const ids = (list.data?.data ?? []).map((s) => s.id);
  const stats = useQuery({
    queryKey: ["segments", "stats", ids.join(",")],
    queryFn: () => apiFetch<{ data: SegmentActivity[] }>(`/api/v1/segments/stats?window=24h&ids=${ids.join(",")}`),
    enabled: ids.length > 0,
    refetchInterval: LIVE_MS,
    placeholderData: keepPreviousData,
  });
  const byId = useMemo(() => new Map((stats.data?.data ?? []).map((s) => [s.segmentId, s])), [stats.data]);

  const filtered = Boolean(q || type || status);
  const resetPage = () => setPage(1);

  return (
    <section aria-labelledby="segments-title">
      <PageHeader
        title={<span id="segments-title">Segments</span>}
        description="Audiences that update as events arrive. Member counts are live."
        actions={
          canEdit ? (
            <Link href="/segments/new" className={buttonClass("primary")}>
              New segment
            </Link>
          ) : null
        }
      />

      <div className="mb-4 grid gap-3 sm:grid-cols-[minmax(0,1fr)_11rem_11rem]">
        <Field label="Search by name">
          <Input
            type="search"
            value={search}
            placeholder="e.g. Cart adders"
            onChange={(e) => {
              setSearch(e.target.value);
              resetPage();
            }}
          />
        </Field>
        <Field label="Type">
          <Select
            value={type}
            onChange={(e) => {
              setType(e.target.value);
              resetPage();
            }}
          >
            <option value="">All types</option>
            <option value="INDEPENDENT">Independent</option>
            <option value="DERIVED">Derived</option>
          </Select>
        </Field>
        <Field label="Status">
          <Select
            value={status}
            onChange={(e) => {
              setStatus(e.target.value);
              resetPage();
            }}
          >
            <option value="">Any status</option>
            <option value="active">Active</option>
            <option value="inactive">Inactive</option>
          </Select>
        </Field>
      </div>

      {list.isPending ? (
        <LoadingRows rows={6} label="Loading segments" />
      ) : list.isError ? (
        <ErrorState title="Could not load the segments" message={errorMessage(list.error)} onRetry={() => void list.refetch()} />
      ) : list.data.data.length === 0 ? (
        filtered ? (
          <EmptyState title="No segment matches these filters" description="Try another name, or clear the type and status filters." />
        ) : (
          <EmptyState
            title="No segments yet"
            description="A segment is an audience defined by what users do (3 add-to-carts in an hour) or by other segments."
            action={
              canEdit ? (
                <Link href="/segments/new" className={buttonClass("primary")}>
                  Build your first segment
                </Link>
              ) : undefined
            }
          />
        )
      ) : (
        <>
          <Table aria-label="Segments" aria-busy={list.isFetching || undefined}>
            <thead>
              <tr>
                <Th>Name</Th>
                <Th>Type</Th>
                <Th>Status</Th>
                <Th className="hidden xl:table-cell">Definition</Th>
                <Th className="text-right">Members</Th>
                <Th>Last 24 h</Th>
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100">
              {list.data.data.map((s) => {
                const st = byId.get(s.id);
                const def = definitionText(s, names);
                return (
                  <tr key={s.id} className="hover:bg-slate-50">
                    <Td className="min-w-[10rem] max-w-[16rem]">
                      <Link href={`/segments/${s.id}`} className="font-medium text-indigo-700 hover:underline focus-visible:outline-2 focus-visible:outline-indigo-600">
                        {s.name}
                      </Link>
                      <p className="truncate text-xs text-slate-600 xl:hidden" title={def}>
                        {def}
                      </p>
                    </Td>
                    <Td>
                      <Badge tone={s.type === "DERIVED" ? "blue" : "gray"}>{s.type === "DERIVED" ? "Derived" : "Independent"}</Badge>
                    </Td>
                    <Td>
                      <Badge tone={s.active ? "green" : "gray"}>{s.active ? "Active" : "Inactive"}</Badge>
                    </Td>
                    {/* Takes the room that is left and truncates, so the sparkline column always fits. */}
                    <Td className="hidden w-full max-w-0 xl:table-cell">
                      <p className="truncate font-mono text-xs text-slate-700" title={def}>
                        {def}
                      </p>
                    </Td>
                    <Td className="text-right font-semibold tabular-nums" aria-label={`${s.name} members`}>
                      <span data-testid="member-count">{st ? formatNumber(st.currentMembers) : "…"}</span>
                    </Td>
                    <Td>
                      <Sparkline points={st?.points} width={96} label={`${s.name} members`} />
                    </Td>
                  </tr>
                );
              })}
            </tbody>
          </Table>
          <nav aria-label="Pagination" className="mt-4 flex items-center justify-between text-sm text-slate-700">
            <p>
              {formatNumber(list.data.pagination.total)} segment{list.data.pagination.total === 1 ? "" : "s"}
              {stats.isError ? <span className="ml-2 text-red-700">· live counts unavailable</span> : null}
            </p>
            <div className="flex items-center gap-2">
              <Button variant="secondary" size="sm" disabled={page <= 1} onClick={() => setPage((p) => p - 1)}>
                Previous
              </Button>
              <span className="tabular-nums">
                Page {list.data.pagination.page} of {list.data.pagination.totalPages}
              </span>
              <Button variant="secondary" size="sm" disabled={page >= list.data.pagination.totalPages} onClick={() => setPage((p) => p + 1)}>
                Next
              </Button>
            </div>
          </nav>
        </>
      )}
    </section>
  );
}
