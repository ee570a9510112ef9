import type { Metadata } from "next";
import { can } from "@/lib/auth/roles";
import { getSessionUser } from "@/lib/auth/session";
import { SegmentsList } from "./_components/segments-list";

export const metadata: Metadata = { title: "Segments" };
export const dynamic = "force-dynamic";

export default async function SegmentsPage() {
  const user = await getSessionUser();
  return <SegmentsList canEdit={can(user, "edit")} />;
}
