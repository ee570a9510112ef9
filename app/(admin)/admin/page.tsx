import type { Metadata } from "next";
import { PageHeader } from "@/components/ui/page-header";
import { requireRole } from "@/lib/auth/session";
import { AdminConsole } from "./admin-console";

export const metadata: Metadata = { title: "Admin" };

export default async function AdminPage() {
  const me = await requireRole("admin");
  return (
    <>
      <PageHeader title="Admin" description="Invite people, set their roles, and manage the API keys apps use." />
      <AdminConsole meId={me.id} />
    </>
  );
}
