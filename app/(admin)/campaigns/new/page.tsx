import type { Metadata } from "next";
import { CampaignEditor } from "@/components/campaigns/campaign-editor";
import { requireRole } from "@/lib/auth/session";

export const metadata: Metadata = { title: "New campaign" };

export default async function NewCampaignPage() {
  await requireRole("marketer");
  return <CampaignEditor />;
}
