import type { Metadata } from "next";
import { notFound } from "next/navigation";
import { requireRole } from "@/lib/auth/session";
import { SegmentBuilder } from "@/components/segments/builder/segment-builder";

export const metadata: Metadata = { title: "Edit segment" };
export const dynamic = "force-dynamic";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export default async function EditSegmentPage({ params }: { params: Promise<{ segmentId: string }> }) {
  await requireRole("marketer");
  const { segmentId } = await params;
  if (!UUID.test(segmentId)) notFound();
  return <SegmentBuilder segmentId={segmentId.toLowerCase()} />;
}
