"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Badge, Button, Card, CardBody, CardHeader, EmptyState, ErrorState, Field, Input, LoadingRows, Select, Table, Td, Th } from "@/components/ui";
import { ApiError, apiFetch, errorMessage } from "@/lib/ui/api";

type Role = "viewer" | "marketer" | "admin";
interface Account { id: string; email: string; name: string; role: Role; disabled: boolean; lastSignInAt: string | null; createdAt: string; mustChangePassword: boolean }
interface ApiKey { id: string; name: string; prefix: string; scopes: string[]; createdBy: string; createdAt: string; lastUsedAt: string | null; revokedAt: string | null }

const when = (iso: string | null) => (iso ? new Date(iso).toLocaleString() : "never");

export function AdminConsole({ meId }: { meId: string }) {
  return (
    <div className="space-y-8">
      <UsersCard meId={meId} />
      <ApiKeysCard />
    </div>
  );
}

function UsersCard({ meId }: { meId: string }) {
  const qc = useQueryClient();
  const users = useQuery({ queryKey: ["admin", "users"], queryFn: () => apiFetch<{ users: Account[] }>("/api/v1/admin/users") });
  const [invite, setInvite] = useState({ email: "", name: "", role: "marketer" as Role });
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  const [created, setCreated] = useState<{ email: string; password: string } | null>(null);
  const inviteMutation = useMutation({
    mutationFn: () => apiFetch<{ user: Account; temporaryPassword: string }>("/api/v1/admin/users", { method: "POST", json: invite }),
    onSuccess: (r) => {
      setCreated({ email: r.user.email, password: r.temporaryPassword });
      setInvite({ email: "", name: "", role: "marketer" });
      setFieldErrors({});
      void qc.invalidateQueries({ queryKey: ["admin", "users"] });
    },
    onError: (e) => setFieldErrors(e instanceof ApiError ? e.fieldErrors() : {}),
  });
  const update = useMutation({
    mutationFn: ({ id, patch }: { id: string; patch: { role?: Role; disabled?: boolean } }) =>
      apiFetch<Account>(`/api/v1/admin/users/${id}`, { method: "PATCH", json: patch }),
    onSettled: () => void qc.invalidateQueries({ queryKey: ["admin", "users"] }),
  });

  return (
    <Card>
      <CardHeader title="People" description="Viewers read; marketers edit segments and campaigns; admins also manage people, keys and the audit log." />
      <CardBody className="space-y-5">
        <form
          className="grid gap-3 sm:grid-cols-[1fr_1fr_10rem_auto] sm:items-start"
          onSubmit={(e) => {
            e.preventDefault();
            inviteMutation.mutate();
          }}
        >
          <Field label="Email" error={fieldErrors.email}>
            <Input type="email" value={invite.email} onChange={(e) => setInvite({ ...invite, email: e.target.value })} required />
          </Field>
          <Field label="Name" error={fieldErrors.name}>
            <Input value={invite.name} onChange={(e) => setInvite({ ...invite, name: e.target.value })} required />
          </Field>
          <Field label="Role" error={fieldErrors.role}>
            <Select value={invite.role} onChange={(e) => setInvite({ ...invite, role: e.target.value as Role })}>
              <option value="viewer">viewer</option>
              <option value="marketer">marketer</option>
              <option value="admin">admin</option>
            </Select>
          </Field>
          <Button type="submit" className="sm:mt-6" disabled={inviteMutation.isPending}>
            {inviteMutation.isPending ? "Inviting…" : "Invite"}
          </Button>
        </form>
        {inviteMutation.isError && !Object.keys(fieldErrors).length ? <ErrorState title="Invitation failed" message={errorMessage(inviteMutation.error)} /> : null}
        {created ? (
          <div role="status" className="rounded-md border border-emerald-200 bg-emerald-50 px-4 py-3 text-sm text-emerald-900">
            Invited <strong>{created.email}</strong>. One-time password (shown only now; they choose their own at first sign-in):{" "}
            <code className="rounded bg-white px-1.5 py-0.5 font-mono" data-testid="temporary-password">{created.password}</code>
          </div>
        ) : null}
        {update.isError ? <ErrorState title="Change refused" message={errorMessage(update.error)} /> : null}
        {users.isPending ? (
          <LoadingRows rows={3} label="Loading people" />
        ) : users.isError ? (
          <ErrorState message={errorMessage(users.error)} onRetry={() => void users.refetch()} />
        ) : (
          <Table>
            <thead>
              <tr>
                <Th>Person</Th>
                <Th>Role</Th>
                <Th>Last sign-in</Th>
                <Th>Status</Th>
                <Th className="text-right">Actions</Th>
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100">
              {users.data.users.map((u) => (
                <tr key={u.id}>
                  <Td>
                    <div className="font-medium">{u.name}</div>
                    <div className="text-xs text-slate-600">{u.email}</div>
                  </Td>
                  <Td>
                    <label className="sr-only" htmlFor={`role-${u.id}`}>Role of {u.email}</label>
                    <Select
                      id={`role-${u.id}`}
                      className="w-32 py-1"
                      value={u.role}
                      disabled={u.id === meId || update.isPending}
                      onChange={(e) => update.mutate({ id: u.id, patch: { role: e.target.value as Role } })}
                    >
                      <option value="viewer">viewer</option>
                      <option value="marketer">marketer</option>
                      <option value="admin">admin</option>
                    </Select>
                  </Td>
                  <Td className="text-xs text-slate-600">{when(u.lastSignInAt)}</Td>
                  <Td>
                    {u.disabled ? <Badge tone="red">disabled</Badge> : u.mustChangePassword ? <Badge tone="amber">invited</Badge> : <Badge tone="green">active</Badge>}
                  </Td>
                  <Td className="text-right">
                    {u.id === meId ? (
                      <span className="text-xs text-slate-500">you</span>
                    ) : (
                      <Button size="sm" variant="secondary" onClick={() => update.mutate({ id: u.id, patch: { disabled: !u.disabled } })}>
                        {u.disabled ? "Enable" : "Disable"}
                      </Button>
                    )}
                  </Td>
                </tr>
              ))}
            </tbody>
          </Table>
        )}
      </CardBody>
    </Card>
  );
}

const SCOPES = [
  { id: "ingest", label: "ingest", help: "send events" },
  { id: "read", label: "read", help: "query segments, users, campaigns" },
  { id: "admin", label: "admin", help: "everything, including changes" },
] as const;

function ApiKeysCard() {
  const qc = useQueryClient();
  const keys = useQuery({ queryKey: ["admin", "api-keys"], queryFn: () => apiFetch<{ apiKeys: ApiKey[] }>("/api/v1/admin/api-keys") });
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState<string[]>(["ingest"]);
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  const [shown, setShown] = useState<{ name: string; key: string } | null>(null);
  const create = useMutation({
    mutationFn: () => apiFetch<{ apiKey: ApiKey; key: string }>("/api/v1/admin/api-keys", { method: "POST", json: { name, scopes } }),
    onSuccess: (r) => {
      setShown({ name: r.apiKey.name, key: r.key });
      setName("");
      setFieldErrors({});
      void qc.invalidateQueries({ queryKey: ["admin", "api-keys"] });
    },
    onError: (e) => setFieldErrors(e instanceof ApiError ? e.fieldErrors() : {}),
  });
  const revoke = useMutation({
    mutationFn: (id: string) => apiFetch(`/api/v1/admin/api-keys/${id}`, { method: "DELETE" }),
    onSettled: () => void qc.invalidateQueries({ queryKey: ["admin", "api-keys"] }),
  });

  return (
    <Card>
      <CardHeader title="API keys" description="Apps authenticate with `Authorization: Bearer <key>`. Keys are stored hashed: copy a new key now, it is not shown again." />
      <CardBody className="space-y-5">
        <form
          className="flex flex-wrap items-start gap-4"
          onSubmit={(e) => {
            e.preventDefault();
            create.mutate();
          }}
        >
          <Field label="Key name" error={fieldErrors.name} className="min-w-56 flex-1">
            <Input value={name} onChange={(e) => setName(e.target.value)} placeholder="e.g. web shop ingest" required />
          </Field>
          <fieldset className="min-w-56">
            <legend className="mb-1 text-sm font-medium text-slate-800">Scopes</legend>
            <div className="flex flex-wrap gap-3 pt-1.5">
              {SCOPES.map((s) => (
                <label key={s.id} className="flex items-center gap-1.5 text-sm" title={s.help}>
                  <input
                    type="checkbox"
                    className="size-4 rounded border-slate-300 text-indigo-600 focus:ring-indigo-500"
                    checked={scopes.includes(s.id)}
                    onChange={(e) => setScopes(e.target.checked ? [...scopes, s.id] : scopes.filter((x) => x !== s.id))}
                  />
                  {s.label}
                </label>
              ))}
            </div>
            {fieldErrors.scopes ? <p role="alert" className="mt-1 text-xs font-medium text-red-700">{fieldErrors.scopes}</p> : null}
          </fieldset>
          <Button type="submit" className="mt-6" disabled={create.isPending}>
            {create.isPending ? "Creating…" : "Create key"}
          </Button>
        </form>
        {shown ? (
          <div role="status" className="rounded-md border border-emerald-200 bg-emerald-50 px-4 py-3 text-sm text-emerald-900">
            Key <strong>{shown.name}</strong> (shown only now):{" "}
            <code className="break-all rounded bg-white px-1.5 py-0.5 font-mono" data-testid="new-api-key">{shown.key}</code>{" "}
            <Button size="sm" variant="secondary" onClick={() => void navigator.clipboard?.writeText(shown.key)}>Copy</Button>
          </div>
        ) : null}
        {create.isError && !Object.keys(fieldErrors).length ? <ErrorState title="Could not create the key" message={errorMessage(create.error)} /> : null}
        {keys.isPending ? (
          <LoadingRows rows={3} label="Loading API keys" />
        ) : keys.isError ? (
          <ErrorState message={errorMessage(keys.error)} onRetry={() => void keys.refetch()} />
        ) : keys.data.apiKeys.length === 0 ? (
          <EmptyState title="No API keys yet" description="Create one for each app that sends events or reads segments." />
        ) : (
          <Table>
            <thead>
              <tr>
                <Th>Name</Th>
                <Th>Key</Th>
                <Th>Scopes</Th>
                <Th>Last used</Th>
                <Th className="text-right">Actions</Th>
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100">
              {keys.data.apiKeys.map((k) => (
                <tr key={k.id} className={k.revokedAt ? "text-slate-500" : undefined}>
                  <Td className="font-medium">{k.name}</Td>
                  <Td className="font-mono text-xs">{k.prefix}…</Td>
                  <Td>
                    <div className="flex gap-1">{k.scopes.map((s) => <Badge key={s} tone={s === "admin" ? "indigo" : "gray"}>{s}</Badge>)}</div>
                  </Td>
                  <Td className="text-xs">{when(k.lastUsedAt)}</Td>
                  <Td className="text-right">
                    {k.revokedAt ? (
                      <Badge tone="red">revoked</Badge>
                    ) : (
                      <Button
                        size="sm"
                        variant="danger"
                        disabled={revoke.isPending}
                        onClick={() => {
                          if (window.confirm(`Revoke ${k.name}? Apps using it stop working at once.`)) revoke.mutate(k.id);
                        }}
                      >
                        Revoke
                      </Button>
                    )}
                  </Td>
                </tr>
              ))}
            </tbody>
          </Table>
        )}
      </CardBody>
    </Card>
  );
}
