"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Badge, Button, Card, CardBody, CardHeader, ErrorState, Field, Input, Skeleton, Textarea } from "@/components/ui";
import { formatDateTime } from "@/components/segments/format";
import { ApiError, apiFetch, errorMessage } from "@/lib/ui/api";
import type { ApiProfile } from "./types";

const profilePath = (userId: string) => `/api/v1/users/${encodeURIComponent(userId)}/profile`;

/** The profile, or null when the user has none yet (404). */
export function useProfile(userId: string) {
  return useQuery({
    queryKey: ["user", userId, "profile"],
    queryFn: async () => {
      try {
        return await apiFetch<ApiProfile>(profilePath(userId));
      } catch (e) {
        if (e instanceof ApiError && e.status === 404) return null;
        throw e;
      }
    },
  });
}

function show(v: unknown): string {
  if (v === null || v === undefined) return "—";
  return typeof v === "object" ? JSON.stringify(v) : String(v);
}

interface Draft {
  email: string;
  phone: string;
  timezone: string;
  attributes: string;
  deviceTokens: string;
}

const toDraft = (p: ApiProfile | null): Draft => ({
  email: p?.email ?? "",
  phone: p?.phone ?? "",
  timezone: p?.timezone ?? "",
  attributes: JSON.stringify(p?.attributes ?? {}, null, 2),
  deviceTokens: JSON.stringify(p?.deviceTokens ?? [], null, 2),
});

/** Field errors keyed by the form's fields: `attributes.x` and `deviceTokens[0]` land on their text areas. */
function errorsByField(e: ApiError): Partial<Record<keyof Draft, string>> {
  const out: Partial<Record<keyof Draft, string>> = {};
  for (const [field, reason] of Object.entries(e.fieldErrors())) {
    const key = (["email", "phone", "timezone", "attributes", "deviceTokens"] as const).find((k) => field === k || field.startsWith(`${k}.`) || field.startsWith(`${k}[`));
    if (key) out[key] ??= field === key ? reason : `${field}: ${reason}`;
  }
  return out;
}

function ProfileForm({ userId, profile, onDone }: { userId: string; profile: ApiProfile | null; onDone: () => void }) {
  const qc = useQueryClient();
  const [draft, setDraft] = useState<Draft>(() => toDraft(profile));
  const [errors, setErrors] = useState<Partial<Record<keyof Draft, string>>>({});
  const [formError, setFormError] = useState<string | null>(null);
  const save = useMutation({
    mutationFn: (body: unknown) => apiFetch<ApiProfile>(profilePath(userId), { method: "PUT", json: body }),
    onSuccess: (saved) => {
      qc.setQueryData(["user", userId, "profile"], saved);
      onDone();
    },
    onError: (e) => {
      if (e instanceof ApiError) {
        const byField = errorsByField(e);
        setErrors(byField);
        setFormError(Object.keys(byField).length > 0 ? null : e.message);
      } else setFormError(errorMessage(e));
    },
  });

  const submit = (ev: React.FormEvent) => {
    ev.preventDefault();
    const local: Partial<Record<keyof Draft, string>> = {};
    const parse = (key: "attributes" | "deviceTokens", want: "object" | "array") => {
      try {
        const v: unknown = JSON.parse(draft[key] || (want === "object" ? "{}" : "[]"));
        const ok = want === "array" ? Array.isArray(v) : v !== null && typeof v === "object" && !Array.isArray(v);
        if (!ok) local[key] = want === "array" ? "must be a JSON array" : "must be a JSON object";
        return v;
      } catch {
        local[key] = "is not valid JSON";
        return undefined;
      }
    };
    const attributes = parse("attributes", "object");
    const deviceTokens = parse("deviceTokens", "array");
    setErrors(local);
    setFormError(null);
    if (Object.keys(local).length > 0) return;
    save.mutate({
      email: draft.email.trim() || null,
      phone: draft.phone.trim() || null,
      timezone: draft.timezone.trim() || null,
      attributes,
      deviceTokens,
    });
  };
  const set = (k: keyof Draft) => (e: React.ChangeEvent<HTMLInputElement | HTMLTextAreaElement>) => setDraft({ ...draft, [k]: e.target.value });

  return (
    <form onSubmit={submit} className="space-y-3" aria-label="Edit profile">
      <div className="grid gap-3">
        <Field label="Email" error={errors.email}>
          <Input type="email" value={draft.email} onChange={set("email")} autoComplete="off" placeholder="name@example.com" />
        </Field>
        <Field label="Phone" hint="E.164, like +4915112345678" error={errors.phone}>
          <Input type="tel" value={draft.phone} onChange={set("phone")} autoComplete="off" />
        </Field>
        <Field label="Time zone" hint="IANA name, for quiet hours" error={errors.timezone}>
          <Input value={draft.timezone} onChange={set("timezone")} placeholder="Europe/Berlin" />
        </Field>
      </div>
      <Field label="Attributes" hint="A JSON object; templates read them as {{user.attributes.<key>}}" error={errors.attributes}>
        <Textarea rows={5} value={draft.attributes} onChange={set("attributes")} spellCheck={false} />
      </Field>
      <Field label="Device tokens" hint="A JSON array of FCM tokens or Web Push subscriptions" error={errors.deviceTokens}>
        <Textarea rows={3} value={draft.deviceTokens} onChange={set("deviceTokens")} spellCheck={false} />
      </Field>
      {formError ? (
        <p role="alert" className="text-sm font-medium text-red-700">
          {formError}
        </p>
      ) : null}
      <div className="flex gap-2">
        <Button type="submit" disabled={save.isPending}>
          {save.isPending ? "Saving…" : "Save profile"}
        </Button>
        <Button variant="secondary" onClick={onDone} disabled={save.isPending}>
          Cancel
        </Button>
      </div>
    </form>
  );
}

export function ProfileCard({ userId, canEdit }: { userId: string; canEdit: boolean }) {
  const profile = useProfile(userId);
  const [editing, setEditing] = useState(false);
  const p = profile.data;
  return (
    <Card>
      <CardHeader
        title="Profile"
        description={p ? `Updated ${formatDateTime(p.updatedAt)}` : "Contact points and attributes"}
        actions={
          canEdit && !editing && profile.isSuccess ? (
            <Button size="sm" variant="secondary" onClick={() => setEditing(true)}>
              {p ? "Edit profile" : "Create profile"}
            </Button>
          ) : null
        }
      />
      <CardBody>
        {profile.isPending ? (
          <div className="space-y-3" role="status" aria-label="Loading the profile">
            <Skeleton className="h-5 w-2/3" />
            <Skeleton className="h-5 w-1/2" />
            <Skeleton className="h-5 w-3/5" />
          </div>
        ) : profile.isError ? (
          <ErrorState message={errorMessage(profile.error)} onRetry={() => void profile.refetch()} />
        ) : editing ? (
          <ProfileForm userId={userId} profile={p ?? null} onDone={() => setEditing(false)} />
        ) : !p ? (
          <p className="text-sm text-slate-600">
            No profile yet. Without one the user has no email, phone or time zone, so campaigns skip them.
          </p>
        ) : (
          <dl className="grid grid-cols-[max-content_1fr] gap-x-4 gap-y-2 text-sm">
            <dt className="text-slate-600">Email</dt>
            <dd className="min-w-0 truncate text-slate-900">{p.email ?? "—"}</dd>
            <dt className="text-slate-600">Phone</dt>
            <dd className="text-slate-900">{p.phone ?? "—"}</dd>
            <dt className="text-slate-600">Time zone</dt>
            <dd className="text-slate-900">{p.timezone ?? "—"}</dd>
            <dt className="text-slate-600">Devices</dt>
            <dd className="text-slate-900">{p.deviceTokens.length === 0 ? "—" : `${p.deviceTokens.length} push target${p.deviceTokens.length === 1 ? "" : "s"}`}</dd>
            <dt className="text-slate-600">Attributes</dt>
            <dd className="min-w-0">
              {Object.keys(p.attributes).length === 0 ? (
                <span className="text-slate-900">—</span>
              ) : (
                <ul className="flex flex-wrap gap-1.5">
                  {Object.entries(p.attributes).map(([k, v]) => (
                    <li key={k}>
                      <Badge tone="gray" className="max-w-full">
                        <span className="font-normal text-slate-600">{k}:</span>&nbsp;<span className="truncate">{show(v)}</span>
                      </Badge>
                    </li>
                  ))}
                </ul>
              )}
            </dd>
          </dl>
        )}
      </CardBody>
    </Card>
  );
}
