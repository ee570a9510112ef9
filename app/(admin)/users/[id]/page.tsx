import type { Metadata } from "next";
import { notFound } from "next/navigation";
import { UserDetail } from "@/components/users/user-detail";
import { can } from "@/lib/auth/roles";
import { requireRole } from "@/lib/auth/session";

function decoded(raw: string): string | null {
  try {
    const id = decodeURIComponent(raw);
    return id.length > 0 && id.length <= 256 ? id : null;
  } catch {
    return null;
  }
}

export async function generateMetadata({ params }: { params: Promise<{ id: string }> }): Promise<Metadata> {
  const id = decoded((await params).id);
  return { title: id ? `User ${id}` : "User" };
}

export default async function UserPage({ params }: { params: Promise<{ id: string }> }) {
  const user = await requireRole("viewer");
  const id = decoded((await params).id);
  if (!id) notFound();
  return <UserDetail key={id} userId={id} canEdit={can(user, "edit")} />;
}
