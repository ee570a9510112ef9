"use client";
import { useMutation } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { Button, Card, CardBody, CardHeader, Field, Input } from "@/components/ui";
import { ApiError, apiFetch, errorMessage } from "@/lib/ui/api";

export function PasswordForm({ mustChange }: { mustChange: boolean }) {
  const router = useRouter();
  const [form, setForm] = useState({ currentPassword: "", newPassword: "", confirm: "" });
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [done, setDone] = useState(false);
  const save = useMutation({
    mutationFn: () => apiFetch("/api/v1/me/password", { method: "POST", json: { currentPassword: form.currentPassword, newPassword: form.newPassword } }),
    onSuccess: () => {
      setDone(true);
      setForm({ currentPassword: "", newPassword: "", confirm: "" });
      if (mustChange) router.replace("/");
      router.refresh();
    },
    onError: (e) => setErrors(e instanceof ApiError ? e.fieldErrors() : { newPassword: errorMessage(e) }),
  });
  return (
    <Card className="max-w-lg">
      <CardHeader title="Change password" description={mustChange ? "You signed in with a one-time password: choose your own to continue." : "At least 10 characters."} />
      <CardBody>
        <form
          className="space-y-4"
          onSubmit={(e) => {
            e.preventDefault();
            setDone(false);
            if (form.newPassword !== form.confirm) return setErrors({ confirm: "does not match the new password" });
            setErrors({});
            save.mutate();
          }}
        >
          <Field label="Current password" error={errors.currentPassword}>
            <Input type="password" autoComplete="current-password" value={form.currentPassword} onChange={(e) => setForm({ ...form, currentPassword: e.target.value })} required />
          </Field>
          <Field label="New password" error={errors.newPassword}>
            <Input type="password" autoComplete="new-password" value={form.newPassword} onChange={(e) => setForm({ ...form, newPassword: e.target.value })} required />
          </Field>
          <Field label="Confirm new password" error={errors.confirm}>
            <Input type="password" autoComplete="new-password" value={form.confirm} onChange={(e) => setForm({ ...form, confirm: e.target.value })} required />
          </Field>
          {done ? <p role="status" className="text-sm text-emerald-800">Password changed.</p> : null}
          <Button type="submit" disabled={save.isPending}>{save.isPending ? "Saving…" : "Change password"}</Button>
        </form>
      </CardBody>
    </Card>
  );
}
