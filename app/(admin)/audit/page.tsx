import type { Metadata } from "next";
import { PageHeader } from "@/components/ui/page-header";
import { requireRole } from "@/lib/auth/session";
import { AuditViewer } from "./audit-viewer";

export const metadata: Metadata = { title: "Audit log" };

export default async function AuditPage() {
  await requireRole("admin");
  return (
    <>
      <PageHeader title="Audit log" description="Every change and every sign-in: who, what, when, with the state before and after. Append-only." />
      <AuditViewer />
    </>
  );
}
