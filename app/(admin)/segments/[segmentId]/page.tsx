import type { Metadata } from "next";
import { notFound } from "next/navigation";
import { can } from "@/lib/auth/roles";
import { getSessionUser } from "@/lib/auth/session";
import { SegmentDetail } from "@/components/segments/detail/segment-detail";

export const metadata: Metadata = { title: "Segment" };
export const dynamic = "force-dynamic";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export default async function SegmentPage({ params }: { params: Promise<{ segmentId: string }> }) {
  const { segmentId } = await params;
  if (!UUID.test(segmentId)) notFound();
  const user = await getSessionUser();
  return <SegmentDetail segmentId={segmentId.toLowerCase()} canEdit={can(user, "edit")} />;
}
