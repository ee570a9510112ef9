import type { Metadata } from "next";
import { notFound } from "next/navigation";
import { EditCampaign } from "@/components/campaigns/campaign-editor";
import { requireRole } from "@/lib/auth/session";

export const metadata: Metadata = { title: "Edit campaign" };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export default async function EditCampaignPage({ params }: { params: Promise<{ id: string }> }) {
  await requireRole("marketer");
  const { id } = await params;
  if (!UUID.test(id)) notFound();
  return <EditCampaign id={id.toLowerCase()} />;
}
