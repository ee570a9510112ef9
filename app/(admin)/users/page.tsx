import type { Metadata } from "next";
import { PageHeader } from "@/components/ui/page-header";
import { ActiveUsers, UserLookup } from "@/components/users/user-lookup";
import { requireRole } from "@/lib/auth/session";

export const metadata: Metadata = { title: "Users" };

export default async function UsersPage() {
  await requireRole("viewer");
  return (
    <>
      <PageHeader
        title="Users"
        description="Look a user up by id: their profile, the segments they are in and why, every entry and exit, and their recent events."
      />
      <div className="grid max-w-3xl gap-6">
        <UserLookup />
        <ActiveUsers />
      </div>
    </>
  );
}
