"use client";
import { useInfiniteQuery } from "@tanstack/react-query";
import { Fragment, useState } from "react";
import { Badge, Button, EmptyState, ErrorState, Field, Input, LoadingRows, Table, Td, Th } from "@/components/ui";
import { apiFetch, errorMessage } from "@/lib/ui/api";

interface Entry { id: number; at: string; actor: string; action: string; entityType: string; entityId: string; before: unknown; after: unknown; traceId: string | null }
interface Page { entries: Entry[]; nextCursor: string | null }

const FILTERS = [
  { key: "actor", label: "Actor", placeholder: "user:… or api-key:…" },
  { key: "action", label: "Action", placeholder: "segment.update" },
  { key: "entityType", label: "Entity type", placeholder: "segment" },
  { key: "entityId", label: "Entity id", placeholder: "id" },
] as const;
type FilterKey = (typeof FILTERS)[number]["key"];

/** Keys whose values differ between before and after, for a compact summary. */
function changedKeys(before: unknown, after: unknown): string[] {
  if (!before || !after || typeof before !== "object" || typeof after !== "object") return [];
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...keys].filter((k) => JSON.stringify((before as Record<string, unknown>)[k]) !== JSON.stringify((after as Record<string, unknown>)[k]));
}

export function AuditViewer() {
  const [draft, setDraft] = useState<Record<FilterKey, string>>({ actor: "", action: "", entityType: "", entityId: "" });
  const [filters, setFilters] = useState(draft);
  const [open, setOpen] = useState<number | null>(null);
  const query = useInfiniteQuery({
    queryKey: ["audit", filters],
    initialPageParam: null as string | null,
    queryFn: ({ pageParam }) => {
      const qs = new URLSearchParams({ limit: "50" });
      for (const [k, v] of Object.entries(filters)) if (v.trim()) qs.set(k, v.trim());
      if (pageParam) qs.set("cursor", pageParam);
      return apiFetch<Page>(`/api/v1/audit?${qs}`);
    },
    getNextPageParam: (last) => last.nextCursor,
  });
  const entries = query.data?.pages.flatMap((p) => p.entries) ?? [];

  return (
    <div className="space-y-4">
      <form
        className="grid gap-3 rounded-lg border border-slate-200 bg-white p-4 shadow-sm sm:grid-cols-2 lg:grid-cols-[repeat(4,1fr)_auto] lg:items-end"
        onSubmit={(e) => {
          e.preventDefault();
          setFilters(draft);
        }}
      >
        {FILTERS.map((f) => (
          <Field key={f.key} label={f.label}>
            <Input value={draft[f.key]} placeholder={f.placeholder} onChange={(e) => setDraft({ ...draft, [f.key]: e.target.value })} />
          </Field>
        ))}
        <Button type="submit">Filter</Button>
      </form>
      {query.isPending ? (
        <LoadingRows rows={8} label="Loading the audit log" />
      ) : query.isError ? (
        <ErrorState message={errorMessage(query.error)} onRetry={() => void query.refetch()} />
      ) : entries.length === 0 ? (
        <EmptyState title="No entries" description="Nothing matches these filters." />
      ) : (
        <>
          <Table>
            <thead>
              <tr>
                <Th>When</Th>
                <Th>Actor</Th>
                <Th>Action</Th>
                <Th>Entity</Th>
                <Th>Changed</Th>
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100">
              {entries.map((e) => {
                const changed = changedKeys(e.before, e.after);
                const expanded = open === e.id;
                return (
                  <Fragment key={e.id}>
                    <tr className="hover:bg-slate-50">
                      <Td className="whitespace-nowrap text-xs text-slate-600">{new Date(e.at).toLocaleString()}</Td>
                      <Td className="max-w-48 truncate font-mono text-xs" title={e.actor}>{e.actor}</Td>
                      <Td>
                        <Badge tone={e.action.includes("failed") ? "red" : e.action.startsWith("auth") ? "blue" : "indigo"}>{e.action}</Badge>
                      </Td>
                      <Td className="text-xs">
                        <span className="text-slate-600">{e.entityType}</span> <span className="font-mono">{e.entityId.slice(0, 36)}</span>
                      </Td>
                      <Td>
                        <button
                          type="button"
                          aria-expanded={expanded}
                          onClick={() => setOpen(expanded ? null : e.id)}
                          className="text-xs font-medium text-indigo-700 hover:underline"
                        >
                          {changed.length ? `${changed.slice(0, 3).join(", ")}${changed.length > 3 ? ` +${changed.length - 3}` : ""}` : "details"}
                        </button>
                      </Td>
                    </tr>
                    {expanded ? (
                      <tr>
                        <td colSpan={5} className="bg-slate-50 px-4 py-3">
                          <div className="grid gap-3 md:grid-cols-2">
                            <div>
                              <p className="mb-1 text-xs font-semibold text-slate-700">Before</p>
                              <pre className="max-h-72 overflow-auto rounded bg-white p-2 text-xs ring-1 ring-slate-200">{JSON.stringify(e.before, null, 2) ?? "—"}</pre>
                            </div>
                            <div>
                              <p className="mb-1 text-xs font-semibold text-slate-700">After</p>
                              <pre className="max-h-72 overflow-auto rounded bg-white p-2 text-xs ring-1 ring-slate-200">{JSON.stringify(e.after, null, 2) ?? "—"}</pre>
                            </div>
                          </div>
                          {e.traceId ? <p className="mt-2 text-xs text-slate-600">Trace id <span className="font-mono">{e.traceId}</span></p> : null}
                        </td>
                      </tr>
                    ) : null}
                  </Fragment>
                );
              })}
            </tbody>
          </Table>
          {query.hasNextPage ? (
            <div className="flex justify-center">
              <Button variant="secondary" onClick={() => void query.fetchNextPage()} disabled={query.isFetchingNextPage}>
                {query.isFetchingNextPage ? "Loading…" : "Load older entries"}
              </Button>
            </div>
          ) : null}
        </>
      )}
    </div>
  );
}
