import type { Metadata } from "next";
import { requireRole } from "@/lib/auth/session";
import { SegmentBuilder } from "@/components/segments/builder/segment-builder";

export const metadata: Metadata = { title: "New segment" };
export const dynamic = "force-dynamic";

export default async function NewSegmentPage() {
  await requireRole("marketer");
  return <SegmentBuilder />;
}
