import type { Metadata } from "next";
import { CampaignList } from "@/components/campaigns/campaign-list";
import { can } from "@/lib/auth/roles";
import { requireRole } from "@/lib/auth/session";

export const metadata: Metadata = { title: "Campaigns" };

export default async function CampaignsPage() {
  const user = await requireRole("viewer");
  return <CampaignList canEdit={can(user, "edit")} />;
}
