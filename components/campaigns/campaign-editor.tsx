"use client";
import { useDebounced } from "@/components/ui/use-debounced";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useCallback, useEffect, useId, useMemo, useRef, useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Button, Card, CardBody, CardHeader, ErrorState, Field, Input, PageHeader, Select, Skeleton, Textarea, buttonClass } from "@/components/ui";
import { cx } from "@/components/ui/cx";
import type { SegmentPage } from "@/components/segments/types";
import { ApiError, apiFetch, errorMessage } from "@/lib/ui/api";
import { channelLabels, triggerLabels, type ApiCampaign, type CampaignTrigger, type ChannelType, type Preview } from "./types";

interface Draft {
  name: string;
  segmentId: string;
  channelType: ChannelType;
  trigger: CampaignTrigger;
  subject: string;
  template: string;
  scheduled: boolean;
  /** datetime-local value, in the browser's time zone. */
  scheduledAt: string;
  rateLimit: string;
  capOn: boolean;
  capMax: string;
  capHours: string;
  quietOn: boolean;
  quietStart: string;
  quietEnd: string;
  quietMode: "defer" | "skip";
}

const blank: Draft = {
  name: "",
  segmentId: "",
  channelType: "email",
  trigger: "ON_ENTER",
  subject: "",
  template: "",
  scheduled: false,
  scheduledAt: "",
  rateLimit: "",
  capOn: false,
  capMax: "3",
  capHours: "24",
  quietOn: false,
  quietStart: "22:00",
  quietEnd: "08:00",
  quietMode: "defer",
};

const pad = (n: number) => String(n).padStart(2, "0");
/** An ISO instant as a datetime-local value in the browser's zone. */
function toLocalInput(iso: string): string {
  const d = new Date(iso);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function fromCampaign(c: ApiCampaign): Draft {
  return {
    name: c.name,
    segmentId: c.segmentId,
    channelType: c.channelType,
    trigger: c.trigger,
    subject: c.subject ?? "",
    template: c.template,
    scheduled: c.scheduledAt !== null,
    scheduledAt: c.scheduledAt ? toLocalInput(c.scheduledAt) : "",
    rateLimit: c.policy.rateLimitPerSecond !== undefined ? String(c.policy.rateLimitPerSecond) : "",
    capOn: c.policy.frequencyCap !== undefined,
    capMax: String(c.policy.frequencyCap?.maxMessages ?? 3),
    capHours: String(c.policy.frequencyCap?.windowHours ?? 24),
    quietOn: c.policy.quietHours !== undefined,
    quietStart: c.policy.quietHours?.start ?? "22:00",
    quietEnd: c.policy.quietHours?.end ?? "08:00",
    quietMode: c.policy.quietHours?.mode ?? "defer",
  };
}

/** Numbers go to the server as typed (a non-number is its to refuse, at the right field). */
const num = (s: string) => (s.trim() === "" ? undefined : Number.isNaN(Number(s)) ? s : Number(s));

function toBody(d: Draft) {
  const policy: Record<string, unknown> = {};
  if (d.rateLimit.trim() !== "") policy.rateLimitPerSecond = num(d.rateLimit);
  if (d.capOn) policy.frequencyCap = { maxMessages: num(d.capMax), windowHours: num(d.capHours) };
  if (d.quietOn) policy.quietHours = { start: d.quietStart, end: d.quietEnd, mode: d.quietMode };
  let scheduledAt: string | null = null;
  if (d.trigger === "BATCH" && d.scheduled) {
    const t = new Date(d.scheduledAt);
    scheduledAt = d.scheduledAt && !Number.isNaN(t.getTime()) ? t.toISOString() : d.scheduledAt || "";
  }
  return {
    name: d.name,
    segmentId: d.segmentId,
    channelType: d.channelType,
    trigger: d.trigger,
    subject: d.channelType === "email" ? d.subject : null,
    template: d.template,
    scheduledAt,
    policy,
  };
}

const VARIABLES = ["{{user.attributes.firstName}}", "{{user.email}}", "{{user.phone}}", "{{segment.name}}", "{{campaign.name}}"];

function Section({ title, description, children }: { title: string; description?: string; children: React.ReactNode }) {
  return (
    <Card>
      <CardHeader title={title} description={description} />
      <CardBody className="space-y-4">{children}</CardBody>
    </Card>
  );
}

function Check({ checked, onChange, label, hint }: { checked: boolean; onChange: (v: boolean) => void; label: string; hint?: string }) {
  const id = useId();
  return (
    <div className="flex items-start gap-2">
      <input id={id} type="checkbox" checked={checked} onChange={(e) => onChange(e.target.checked)} className="mt-0.5 h-4 w-4 rounded border-slate-300 text-indigo-600 focus:ring-2 focus:ring-indigo-200" />
      <label htmlFor={id} className="text-sm">
        <span className="font-medium text-slate-800">{label}</span>
        {hint ? <span className="block text-xs text-slate-600">{hint}</span> : null}
      </label>
    </div>
  );
}

/** The rendered message for one user, updated as the draft changes. */
function PreviewPanel({ draft, onTemplateIssue }: { draft: Draft; onTemplateIssue: (issues: Record<string, string>) => void }) {
  const [userId, setUserId] = useState("");
  const [touched, setTouched] = useState(false);
  const firstMember = useQuery({
    queryKey: ["segment", draft.segmentId, "first-member"],
    queryFn: () => apiFetch<{ data: { userId: string }[] }>(`/api/v1/segments/${draft.segmentId}/members?limit=1`),
    enabled: draft.segmentId !== "" && !touched,
    staleTime: 60_000,
  });
  const suggested = firstMember.data?.data[0]?.userId ?? "";
  const effectiveUser = touched ? userId : userId || suggested;
  const input = useDebounced(
    { userId: effectiveUser.trim(), name: draft.name, segmentId: draft.segmentId || null, channelType: draft.channelType, subject: draft.channelType === "email" ? draft.subject : null, template: draft.template },
    400,
  );
  const ready = input.userId !== "" && input.template.trim() !== "" && (input.channelType !== "email" || (input.subject ?? "").trim() !== "");
  const preview = useQuery({
    queryKey: ["campaign-preview", input],
    queryFn: () => apiFetch<Preview>("/api/v1/campaigns/preview", { method: "POST", json: input }),
    enabled: ready,
    retry: false,
    placeholderData: (prev) => prev,
  });
  const err = preview.error instanceof ApiError ? preview.error : null;
  const issues = useMemo(() => {
    const out: Record<string, string> = {};
    if (!err || err.status !== 400) return out;
    for (const [f, r] of Object.entries(err.fieldErrors())) if (f === "template" || f === "subject") out[f] = r;
    return out;
  }, [err]);
  useEffect(() => onTemplateIssue(issues), [issues, onTemplateIssue]);

  const p = preview.data;
  let status: React.ReactNode = null;
  if (!input.userId) status = "Enter a user id to preview the message as they would get it.";
  else if (!ready) status = draft.channelType === "email" ? "Write a subject and a template to see the preview." : "Write a template to see the preview.";
  else if (err) {
    if (err.status === 404) status = <>User {input.userId} has no profile, so nothing would be sent to them.</>;
    else if (issues.template || issues.subject) status = "Fix the template to see the preview.";
    else status = err.message;
  } else if (preview.isError) status = errorMessage(preview.error);

  return (
    <Card className="lg:sticky lg:top-6">
      <CardHeader title="Preview" description="Rendered by the server exactly as it would be sent" />
      <CardBody className="space-y-4">
        <Field label="Preview for user" hint={!touched && suggested ? "A member of the chosen segment; type another id to switch" : "A user id with a profile"}>
          <Input
            value={effectiveUser}
            onChange={(e) => {
              setTouched(true);
              setUserId(e.target.value);
            }}
            placeholder="u-42"
            autoComplete="off"
            spellCheck={false}
          />
        </Field>
        <div aria-live="polite" className="min-h-64">
          {status && !p ? (
            <p className="rounded-md border border-dashed border-slate-300 px-4 py-8 text-center text-sm text-slate-600">{status}</p>
          ) : preview.isPending && ready ? (
            <div role="status" aria-label="Rendering the preview" className="space-y-2">
              <Skeleton className="h-5 w-2/3" />
              <Skeleton className="h-48 w-full" />
            </div>
          ) : p ? (
            <div className={cx("space-y-2 transition-opacity", (preview.isFetching || status) && "opacity-60")} data-testid="campaign-preview">
              {status ? <p className="text-sm font-medium text-amber-800">{status}</p> : null}
              <p className="text-xs text-slate-600">
                To: <span className="font-medium text-slate-800">{p.to ?? (p.channel === "push" ? "the user's devices" : "—")}</span>
              </p>
              {p.channel === "email" ? (
                <>
                  <p className="text-sm">
                    <span className="text-slate-600">Subject: </span>
                    <span className="font-semibold text-slate-900">{p.subject}</span>
                  </p>
                  <iframe title="Email preview" sandbox="" srcDoc={p.html} className="h-72 w-full rounded-md border border-slate-200 bg-white" />
                </>
              ) : p.channel === "sms" ? (
                <div className="max-w-xs rounded-2xl rounded-bl-sm bg-slate-100 px-4 py-2 text-sm whitespace-pre-wrap text-slate-900">{p.body}</div>
              ) : (
                <div className="max-w-sm rounded-xl border border-slate-200 bg-white p-3 shadow-sm">
                  <p className="text-xs font-semibold text-slate-900">{draft.name || "Untitled campaign"}</p>
                  <p className="mt-0.5 text-sm whitespace-pre-wrap text-slate-800">{p.body}</p>
                </div>
              )}
            </div>
          ) : null}
        </div>
      </CardBody>
    </Card>
  );
}

export function CampaignEditor({ campaign }: { campaign?: ApiCampaign }) {
  const router = useRouter();
  const qc = useQueryClient();
  const [draft, setDraft] = useState<Draft>(() => (campaign ? fromCampaign(campaign) : blank));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [liveIssues, setLiveIssues] = useState<Record<string, string>>({});
  const templateRef = useRef<HTMLTextAreaElement>(null);
  const segments = useQuery({
    queryKey: ["segments", "names"],
    queryFn: () => apiFetch<SegmentPage>(`/api/v1/segments?pageSize=100`),
    staleTime: 30_000,
  });
  const save = useMutation({
    mutationFn: (body: ReturnType<typeof toBody>) =>
      campaign
        ? apiFetch<ApiCampaign>(`/api/v1/campaigns/${campaign.id}`, { method: "PUT", json: body })
        : apiFetch<ApiCampaign>("/api/v1/campaigns", { method: "POST", json: body }),
    onSuccess: (saved) => {
      void qc.invalidateQueries({ queryKey: ["campaigns"] });
      void qc.invalidateQueries({ queryKey: ["campaign", saved.id] });
      router.push(`/campaigns/${saved.id}`);
    },
    onError: (e) => {
      if (e instanceof ApiError) {
        const fields = e.fieldErrors();
        setErrors(fields);
        setFormError(Object.keys(fields).length > 0 ? "Some fields need attention." : e.message);
      } else setFormError(errorMessage(e));
    },
  });
  const set = <K extends keyof Draft>(k: K, v: Draft[K]) => {
    setDraft((d) => ({ ...d, [k]: v }));
    if (errors[k as string]) setErrors(({ [k as string]: _, ...rest }) => rest);
  };
  const fieldError = (...keys: string[]) => {
    for (const k of keys) {
      const hit = Object.entries(errors).find(([f]) => f === k || f.startsWith(`${k}.`));
      if (hit) return hit[1];
    }
    return null;
  };
  const insertVariable = (v: string) => {
    const el = templateRef.current;
    const start = el?.selectionStart ?? draft.template.length;
    const end = el?.selectionEnd ?? draft.template.length;
    set("template", draft.template.slice(0, start) + v + draft.template.slice(end));
    requestAnimationFrame(() => {
      el?.focus();
      el?.setSelectionRange(start + v.length, start + v.length);
    });
  };
  const segmentOptions = segments.data?.data ?? [];
  const currentMissing = draft.segmentId !== "" && segments.isSuccess && !segmentOptions.some((s) => s.id === draft.segmentId);
  const onTemplateIssue = useCallback((i: Record<string, string>) => setLiveIssues(i), []);

  return (
    <>
      <PageHeader
        title={campaign ? `Edit ${campaign.name}` : "New campaign"}
        description={campaign ? `Version ${campaign.version} · saving makes version ${campaign.version + 1}` : "Saved as a draft; activate it from its page."}
        actions={
          <Link href={campaign ? `/campaigns/${campaign.id}` : "/campaigns"} className={buttonClass("secondary")}>
            Cancel
          </Link>
        }
      />
      <form
        noValidate
        aria-label={campaign ? "Edit campaign" : "New campaign"}
        onSubmit={(e) => {
          e.preventDefault();
          setFormError(null);
          save.mutate(toBody(draft));
        }}
        className="grid gap-6 lg:grid-cols-5"
      >
        <div className="space-y-6 lg:col-span-3">
          <Section title="Audience and delivery">
            <Field label="Name" error={fieldError("name")}>
              <Input value={draft.name} onChange={(e) => set("name", e.target.value)} placeholder="Cart reminder" maxLength={200} />
            </Field>
            <Field label="Segment" error={fieldError("segmentId")} hint={segments.isError ? `Could not load segments: ${errorMessage(segments.error)}` : undefined}>
              <Select value={draft.segmentId} onChange={(e) => set("segmentId", e.target.value)} disabled={segments.isPending}>
                <option value="">{segments.isPending ? "Loading segments…" : "Choose a segment"}</option>
                {currentMissing ? <option value={draft.segmentId}>Deleted segment ({draft.segmentId.slice(0, 8)}…)</option> : null}
                {segmentOptions.map((s) => (
                  <option key={s.id} value={s.id}>
                    {s.name}
                    {s.active ? "" : " (inactive)"}
                  </option>
                ))}
              </Select>
            </Field>
            <div className="grid gap-4 sm:grid-cols-2">
              <Field label="Channel" error={fieldError("channelType")}>
                <Select value={draft.channelType} onChange={(e) => set("channelType", e.target.value as ChannelType)}>
                  {Object.entries(channelLabels).map(([v, l]) => (
                    <option key={v} value={v}>
                      {l}
                    </option>
                  ))}
                </Select>
              </Field>
              <Field label="Trigger" error={fieldError("trigger")} hint={triggerLabels[draft.trigger].help}>
                <Select value={draft.trigger} onChange={(e) => set("trigger", e.target.value as CampaignTrigger)}>
                  {Object.entries(triggerLabels).map(([v, t]) => (
                    <option key={v} value={v}>
                      {t.label}
                    </option>
                  ))}
                </Select>
              </Field>
            </div>
          </Section>

          <Section title="Message" description="Variables are filled in per user; a user missing one is skipped, never sent a blank.">
            {draft.channelType === "email" ? (
              <Field label="Subject" error={fieldError("subject") ?? liveIssues.subject ?? null}>
                <Input value={draft.subject} onChange={(e) => set("subject", e.target.value)} placeholder="{{user.attributes.firstName}}, your cart misses you" />
              </Field>
            ) : null}
            <Field
              label={draft.channelType === "email" ? "Template (HTML)" : "Template"}
              error={fieldError("template") ?? liveIssues.template ?? null}
              hint={draft.channelType === "email" ? "HTML; values are escaped. A plain-text part is derived from it." : "Plain text."}
            >
              <Textarea ref={templateRef} rows={10} value={draft.template} onChange={(e) => set("template", e.target.value)} spellCheck={false} placeholder="<p>Hi {{user.attributes.firstName}},</p>" />
            </Field>
            <div>
              <p id="variables-label" className="mb-1.5 text-xs font-medium text-slate-700">
                Insert a variable at the cursor
              </p>
              <div role="group" aria-labelledby="variables-label" className="flex flex-wrap gap-1.5">
                {VARIABLES.map((v) => (
                  <button
                    key={v}
                    type="button"
                    onClick={() => insertVariable(v)}
                    className="rounded-md bg-slate-100 px-2 py-1 font-mono text-xs text-slate-800 ring-1 ring-inset ring-slate-200 hover:bg-indigo-50 hover:text-indigo-800 focus-visible:outline-2 focus-visible:outline-indigo-600"
                  >
                    {v}
                  </button>
                ))}
              </div>
            </div>
          </Section>

          {draft.trigger === "BATCH" ? (
            <Section title="Schedule" description="A batch campaign sends to everyone in the segment when its run starts.">
              <fieldset className="space-y-2">
                <legend className="sr-only">When to run</legend>
                {[
                  { v: false, label: "Run by hand", hint: "Start runs from the campaign's page once it is active." },
                  { v: true, label: "Run once at a set time", hint: "The run starts at this time after activation." },
                ].map((o) => (
                  <label key={String(o.v)} className="flex items-start gap-2 text-sm">
                    <input type="radio" name="schedule" checked={draft.scheduled === o.v} onChange={() => set("scheduled", o.v)} className="mt-0.5 h-4 w-4 border-slate-300 text-indigo-600" />
                    <span>
                      <span className="font-medium text-slate-800">{o.label}</span>
                      <span className="block text-xs text-slate-600">{o.hint}</span>
                    </span>
                  </label>
                ))}
              </fieldset>
              {draft.scheduled ? (
                <Field label="Run at" hint={`Your local time (${Intl.DateTimeFormat().resolvedOptions().timeZone})`} error={fieldError("scheduledAt")}>
                  <Input type="datetime-local" value={draft.scheduledAt} onChange={(e) => set("scheduledAt", e.target.value)} className="sm:max-w-64" />
                </Field>
              ) : null}
            </Section>
          ) : null}

          <Section title="Policy" description="Limits that protect users and providers. All optional.">
            <Field label="Rate limit (messages per second)" hint="Leave empty to send as fast as the provider allows." error={fieldError("policy.rateLimitPerSecond")}>
              <Input type="number" min={1} inputMode="numeric" value={draft.rateLimit} onChange={(e) => set("rateLimit", e.target.value)} className="sm:max-w-40" placeholder="e.g. 50" />
            </Field>
            <div className="space-y-3 border-t border-slate-100 pt-4">
              <Check checked={draft.capOn} onChange={(v) => set("capOn", v)} label="Frequency cap" hint="Skip users who already got this many messages from any campaign." />
              {draft.capOn ? (
                <div className="grid gap-4 pl-6 sm:grid-cols-2">
                  <Field label="At most (messages)" error={fieldError("policy.frequencyCap.maxMessages", "policy.frequencyCap")}>
                    <Input type="number" min={1} inputMode="numeric" value={draft.capMax} onChange={(e) => set("capMax", e.target.value)} />
                  </Field>
                  <Field label="Per (hours)" error={fieldError("policy.frequencyCap.windowHours")}>
                    <Input type="number" min={1} inputMode="numeric" value={draft.capHours} onChange={(e) => set("capHours", e.target.value)} />
                  </Field>
                </div>
              ) : null}
            </div>
            <div className="space-y-3 border-t border-slate-100 pt-4">
              <Check checked={draft.quietOn} onChange={(v) => set("quietOn", v)} label="Quiet hours" hint="In each user's own time zone (from the profile)." />
              {draft.quietOn ? (
                <div className="grid gap-4 pl-6 sm:grid-cols-3">
                  <Field label="From" error={fieldError("policy.quietHours.start", "policy.quietHours")}>
                    <Input type="time" value={draft.quietStart} onChange={(e) => set("quietStart", e.target.value)} />
                  </Field>
                  <Field label="Until" error={fieldError("policy.quietHours.end")}>
                    <Input type="time" value={draft.quietEnd} onChange={(e) => set("quietEnd", e.target.value)} />
                  </Field>
                  <Field label="During quiet hours" error={fieldError("policy.quietHours.mode")}>
                    <Select value={draft.quietMode} onChange={(e) => set("quietMode", e.target.value as "defer" | "skip")}>
                      <option value="defer">Send afterwards</option>
                      <option value="skip">Do not send</option>
                    </Select>
                  </Field>
                </div>
              ) : null}
            </div>
          </Section>

          <div className="flex flex-wrap items-center gap-3">
            <Button type="submit" disabled={save.isPending}>
              {save.isPending ? "Saving…" : campaign ? "Save changes" : "Create draft"}
            </Button>
            {formError ? (
              <p role="alert" className="text-sm font-medium text-red-700">
                {formError}
              </p>
            ) : null}
          </div>
        </div>
        <div className="lg:col-span-2">
          <PreviewPanel draft={draft} onTemplateIssue={onTemplateIssue} />
        </div>
      </form>
    </>
  );
}

/** The editor for an existing campaign: loads it, and explains when it cannot be edited. */
export function EditCampaign({ id }: { id: string }) {
  const q = useQuery({ queryKey: ["campaign", id], queryFn: () => apiFetch<ApiCampaign>(`/api/v1/campaigns/${id}`) });
  if (q.isPending)
    return (
      <div role="status" aria-label="Loading the campaign" className="space-y-4">
        <Skeleton className="h-8 w-64" />
        <Skeleton className="h-96 w-full" />
      </div>
    );
  if (q.isError) return <ErrorState message={errorMessage(q.error)} onRetry={() => void q.refetch()} />;
  if (q.data.status === "ACTIVE" || q.data.status === "COMPLETED") {
    return (
      <ErrorState
        title={q.data.status === "ACTIVE" ? "Pause the campaign to edit it" : "A completed campaign cannot be edited"}
        message={q.data.status === "ACTIVE" ? "Edits to a running campaign could reach some users and not others. Pause it first, then edit." : "Create a new campaign instead."}
      />
    );
  }
  return <CampaignEditor campaign={q.data} />;
}
