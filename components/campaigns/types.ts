/** Campaign shapes as the REST API returns them (JSON: dates are strings). */
import type { CampaignPolicy } from "@/lib/campaigns/policy";

export type ChannelType = "email" | "push" | "sms";
export type CampaignTrigger = "ON_ENTER" | "ON_EXIT" | "BATCH";
export type CampaignStatus = "DRAFT" | "ACTIVE" | "PAUSED" | "COMPLETED";
export type SendStatus = "queued" | "sending" | "sent" | "failed" | "skipped";

export interface ApiCampaign {
  id: string;
  name: string;
  segmentId: string;
  channelType: ChannelType;
  trigger: CampaignTrigger;
  subject: string | null;
  template: string;
  status: CampaignStatus;
  scheduledAt: string | null;
  policy: CampaignPolicy;
  version: number;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
}

export interface DeliveryStats {
  byStatus: Record<SendStatus, number>;
  total: number;
}

export interface ApiRun {
  id: string;
  campaignId: string;
  status: "SCHEDULED" | "RUNNING" | "PAUSED" | "COMPLETED" | "FAILED";
  scheduledAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  total: number | null;
  cursor: string | null;
  progress: { sent: number; skipped: number; failed: number; queued: number; remaining: number | null };
}

export interface CampaignDetail extends ApiCampaign {
  delivery: DeliveryStats;
  runs: ApiRun[];
}

export interface CampaignPage {
  data: ApiCampaign[];
  pagination: { page: number; pageSize: number; total: number; totalPages: number };
}

export interface Analytics {
  campaignId: string;
  delivery: DeliveryStats;
  bucket: "hour" | "day";
  since: string;
  series: { bucket: string; channel: string; status: SendStatus; count: number }[];
  conversions: { windowHours: number; sent: number; converted: number; rate: number | null };
}

export interface ApiSend {
  id: number;
  userId: string;
  channel: ChannelType;
  runId: string | null;
  status: SendStatus;
  reason: string | null;
  attempts: number;
  createdAt: string;
  updatedAt: string;
  sentAt: string | null;
  nextAttemptAt: string | null;
}

export interface SendsPage {
  campaignId: string;
  data: ApiSend[];
  next: number | null;
}

export interface Preview {
  campaignId: string | null;
  userId: string;
  channel: ChannelType;
  to: string | null;
  subject?: string;
  html?: string;
  text?: string;
  body?: string;
}

export const channelLabels: Record<ChannelType, string> = { email: "Email", push: "Push", sms: "SMS" };

export const triggerLabels: Record<CampaignTrigger, { label: string; help: string }> = {
  ON_ENTER: { label: "On entry", help: "Sends when a user enters the segment, once per entry." },
  ON_EXIT: { label: "On exit", help: "Sends when a user leaves the segment, once per exit." },
  BATCH: { label: "Batch", help: "Sends to every current member in a run, now or at a scheduled time." },
};

export const statusTone = { DRAFT: "gray", ACTIVE: "green", PAUSED: "amber", COMPLETED: "indigo" } as const;

export const sendStatusColors: Record<SendStatus, string> = {
  sent: "#059669",
  queued: "#6366f1",
  sending: "#0ea5e9",
  skipped: "#d97706",
  failed: "#dc2626",
};

export const SEND_STATUSES: SendStatus[] = ["sent", "queued", "sending", "skipped", "failed"];
