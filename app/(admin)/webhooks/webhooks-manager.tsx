"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Badge, Button, Card, CardBody, CardHeader, EmptyState, ErrorState, Field, Input, LoadingRows, Select, Table, Td, Th } from "@/components/ui";
import { ApiError, apiFetch, errorMessage } from "@/lib/ui/api";

/** Membership webhooks: subscriptions, the secret shown once, enable/disable, the delivery log. */
interface Webhook {
  id: string;
  description: string | null;
  url: string;
  segmentId: string | null;
  events: ("enter" | "exit")[];
  enabled: boolean;
  disabledReason: string | null;
  disabledAt: string | null;
  consecutiveFailures: number;
  secretHint: string;
  createdAt: string;
}
interface Delivery {
  id: string;
  userId: string;
  event: "enter" | "exit";
  segmentId: string;
  status: "pending" | "delivered" | "failed";
  attempts: number;
  nextAttemptAt: string | null;
  lastResponseCode: number | null;
  lastError: string | null;
  createdAt: string;
  deliveredAt: string | null;
}
interface SegmentOption { id: string; name: string }

const when = (iso: string | null) => (iso ? new Date(iso).toLocaleString() : "—");
const STATUS_TONE = { pending: "amber", delivered: "green", failed: "red" } as const;

function Deliveries({ webhookId }: { webhookId: string }) {
  const q = useQuery({
    queryKey: ["webhook-deliveries", webhookId],
    queryFn: () => apiFetch<{ data: Delivery[] }>(`/api/v1/webhooks/${webhookId}/deliveries?limit=50`),
    refetchInterval: 5_000,
  });
  if (q.isPending) return <LoadingRows rows={3} label="Loading deliveries" />;
  if (q.isError) return <ErrorState message={errorMessage(q.error)} onRetry={() => void q.refetch()} />;
  if (q.data.data.length === 0) return <p className="text-sm text-slate-600">No deliveries yet: they appear when a user enters or leaves a matching segment.</p>;
  return (
    <Table>
      <thead>
        <tr>
          <Th>Created</Th>
          <Th>User</Th>
          <Th>Event</Th>
          <Th>Status</Th>
          <Th>Attempts</Th>
          <Th>Last response</Th>
          <Th>Delivery id</Th>
        </tr>
      </thead>
      <tbody className="divide-y divide-slate-100">
        {q.data.data.map((d) => (
          <tr key={d.id}>
            <Td>{when(d.createdAt)}</Td>
            <Td className="font-mono text-xs">{d.userId}</Td>
            <Td>{d.event === "enter" ? "entered" : "exited"}</Td>
            <Td>
              <Badge tone={STATUS_TONE[d.status]}>{d.status}</Badge>
              {d.status === "pending" && d.attempts > 0 ? <span className="ml-1 text-xs text-slate-500">retry {when(d.nextAttemptAt)}</span> : null}
            </Td>
            <Td>{d.attempts}</Td>
            <Td>{d.lastResponseCode ?? (d.lastError ? <span className="text-red-700">{d.lastError}</span> : "—")}</Td>
            <Td className="font-mono text-xs">{d.id}</Td>
          </tr>
        ))}
      </tbody>
    </Table>
  );
}

function CreateWebhook({ segments, onCreated }: { segments: SegmentOption[]; onCreated: (secret: string) => void }) {
  const qc = useQueryClient();
  const [url, setUrl] = useState("");
  const [segmentId, setSegmentId] = useState("");
  const [events, setEvents] = useState({ enter: true, exit: true });
  const [description, setDescription] = useState("");
  const create = useMutation({
    mutationFn: () =>
      apiFetch<Webhook & { secret: string }>("/api/v1/webhooks", {
        method: "POST",
        json: {
          url,
          segmentId: segmentId || null,
          events: (["enter", "exit"] as const).filter((e) => events[e]),
          ...(description.trim() ? { description: description.trim() } : {}),
        },
      }),
    onSuccess: (created) => {
      onCreated(created.secret);
      setUrl("");
      setDescription("");
      void qc.invalidateQueries({ queryKey: ["webhooks"] });
    },
  });
  const fieldErrors = create.error instanceof ApiError ? create.error.fieldErrors() : {};
  return (
    <Card>
      <CardHeader title="New webhook" description="A signed POST for every entry or exit of one segment, or of every segment." />
      <CardBody>
        <form
          className="grid gap-3 sm:grid-cols-2"
          onSubmit={(e) => {
            e.preventDefault();
            create.mutate();
          }}
        >
          <Field label="URL" error={fieldErrors.url}>
            <Input type="url" required placeholder="https://example.com/hooks/audience" value={url} onChange={(e) => setUrl(e.target.value)} />
          </Field>
          <Field label="Segment" error={fieldErrors.segmentId}>
            <Select value={segmentId} onChange={(e) => setSegmentId(e.target.value)}>
              <option value="">Every segment</option>
              {segments.map((s) => (
                <option key={s.id} value={s.id}>
                  {s.name}
                </option>
              ))}
            </Select>
          </Field>
          <fieldset className="text-sm">
            <legend className="mb-1 font-medium text-slate-800">Events</legend>
            {(["enter", "exit"] as const).map((e) => (
              <label key={e} className="mr-4 inline-flex items-center gap-2">
                <input type="checkbox" checked={events[e]} onChange={(ev) => setEvents({ ...events, [e]: ev.target.checked })} />
                {e === "enter" ? "User enters" : "User exits"}
              </label>
            ))}
            {fieldErrors.events ? <p className="mt-1 text-xs font-medium text-red-700">{fieldErrors.events}</p> : null}
          </fieldset>
          <Field label="Description (optional)">
            <Input value={description} onChange={(e) => setDescription(e.target.value)} />
          </Field>
          <div className="sm:col-span-2">
            <Button type="submit" disabled={create.isPending}>
              {create.isPending ? "Creating…" : "Create webhook"}
            </Button>
            {create.isError && Object.keys(fieldErrors).length === 0 ? <p className="mt-2 text-sm text-red-700">{errorMessage(create.error)}</p> : null}
          </div>
        </form>
      </CardBody>
    </Card>
  );
}

export function WebhooksManager({ canEdit }: { canEdit: boolean }) {
  const qc = useQueryClient();
  const [secret, setSecret] = useState<string | null>(null);
  const [open, setOpen] = useState<string | null>(null);
  const hooks = useQuery({ queryKey: ["webhooks"], queryFn: () => apiFetch<{ data: Webhook[] }>("/api/v1/webhooks?limit=100"), refetchInterval: 10_000 });
  const segments = useQuery({
    queryKey: ["segments", "options"],
    queryFn: () => apiFetch<{ data: SegmentOption[] }>("/api/v1/segments?pageSize=100"),
  });
  const names = new Map((segments.data?.data ?? []).map((s) => [s.id, s.name]));
  const update = useMutation({
    mutationFn: ({ id, enabled }: { id: string; enabled: boolean }) => apiFetch<Webhook>(`/api/v1/webhooks/${id}`, { method: "PATCH", json: { enabled } }),
    onSuccess: () => void qc.invalidateQueries({ queryKey: ["webhooks"] }),
  });
  const remove = useMutation({
    mutationFn: (id: string) => apiFetch<void>(`/api/v1/webhooks/${id}`, { method: "DELETE" }),
    onSuccess: () => void qc.invalidateQueries({ queryKey: ["webhooks"] }),
  });

  return (
    <div className="space-y-6">
      {secret ? (
        <div role="status" className="rounded-md border border-amber-300 bg-amber-50 px-4 py-3 text-sm text-amber-950">
          <p className="font-semibold">Signing secret — copy it now, it is not shown again:</p>
          <code data-testid="webhook-secret" className="mt-1 block break-all font-mono">{secret}</code>
          <p className="mt-2 text-xs">
            Verify each delivery: HMAC-SHA256 of <code>{"<t>.<raw body>"}</code> with this secret must equal <code>v1</code> in{" "}
            <code>X-AM-Signature: t=…,v1=…</code>; refuse a <code>t</code> older than 5 minutes; deduplicate on <code>X-AM-Delivery-Id</code>.
          </p>
          <Button size="sm" variant="secondary" className="mt-2" onClick={() => setSecret(null)}>
            Done
          </Button>
        </div>
      ) : null}
      {canEdit ? <CreateWebhook segments={segments.data?.data ?? []} onCreated={setSecret} /> : null}
      {hooks.isPending ? (
        <LoadingRows rows={4} label="Loading webhooks" />
      ) : hooks.isError ? (
        <ErrorState message={errorMessage(hooks.error)} onRetry={() => void hooks.refetch()} />
      ) : hooks.data.data.length === 0 ? (
        <EmptyState title="No webhooks yet" description="Create one to be told the moment a user enters or leaves a segment." />
      ) : (
        <ul className="space-y-3">
          {hooks.data.data.map((w) => (
            <li key={w.id}>
              <Card>
                <div className="flex flex-wrap items-start gap-3 px-5 py-4">
                  <div className="min-w-0 flex-1">
                    <p className="break-all font-mono text-sm text-slate-900">{w.url}</p>
                    <p className="mt-1 text-sm text-slate-600">
                      {w.segmentId ? (names.get(w.segmentId) ?? w.segmentId) : "Every segment"} · {w.events.map((e) => (e === "enter" ? "entries" : "exits")).join(" and ")} · secret {w.secretHint}
                      {w.description ? ` · ${w.description}` : ""}
                    </p>
                    {w.enabled ? (
                      <p className="mt-1 text-xs text-slate-500">{w.consecutiveFailures > 0 ? `${w.consecutiveFailures} failed attempts in a row` : "Healthy"}</p>
                    ) : (
                      <p className="mt-1 text-xs font-medium text-red-700">{w.disabledReason ?? "Disabled"}</p>
                    )}
                  </div>
                  <Badge tone={w.enabled ? "green" : "red"}>{w.enabled ? "enabled" : "disabled"}</Badge>
                  <div className="flex gap-2">
                    <Button size="sm" variant="secondary" aria-expanded={open === w.id} onClick={() => setOpen(open === w.id ? null : w.id)}>
                      Deliveries
                    </Button>
                    {canEdit ? (
                      <>
                        <Button size="sm" variant="secondary" disabled={update.isPending} onClick={() => update.mutate({ id: w.id, enabled: !w.enabled })}>
                          {w.enabled ? "Disable" : "Enable"}
                        </Button>
                        <Button
                          size="sm"
                          variant="danger"
                          disabled={remove.isPending}
                          onClick={() => {
                            if (window.confirm(`Delete the webhook to ${w.url} and its delivery log?`)) remove.mutate(w.id);
                          }}
                        >
                          Delete
                        </Button>
                      </>
                    ) : null}
                  </div>
                </div>
                {open === w.id ? (
                  <div className="border-t border-slate-100 px-5 py-4">
                    <Deliveries webhookId={w.id} />
                  </div>
                ) : null}
              </Card>
            </li>
          ))}
        </ul>
      )}
      {update.isError ? <p className="text-sm text-red-700">{errorMessage(update.error)}</p> : null}
      {remove.isError ? <p className="text-sm text-red-700">{errorMessage(remove.error)}</p> : null}
    </div>
  );
}
