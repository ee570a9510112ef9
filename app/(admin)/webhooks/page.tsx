import type { Metadata } from "next";
import { PageHeader } from "@/components/ui/page-header";
import { can } from "@/lib/auth/roles";
import { getSessionUser } from "@/lib/auth/session";
import { WebhooksManager } from "./webhooks-manager";

export const metadata: Metadata = { title: "Webhooks" };
export const dynamic = "force-dynamic";

export default async function WebhooksPage() {
  const user = await getSessionUser();
  return (
    <>
      <PageHeader
        title="Webhooks"
        description="Signed HTTP calls when users enter or leave segments: retried with backoff, disabled after repeated failures, every delivery logged."
      />
      <WebhooksManager canEdit={can(user, "edit")} />
    </>
  );
}
