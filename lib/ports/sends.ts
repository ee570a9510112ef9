import type { ChannelType } from "@/lib/campaigns/campaign";

export type SendStatus = "queued" | "sending" | "sent" | "failed" | "skipped";

export interface SendRecord {
  id: number;
  idempotencyKey: string;
  campaignId: string;
  runId: string | null;
  userId: string;
  channel: ChannelType;
  transitionId: string | null;
  status: SendStatus;
  reason: string | null;
  attempts: number;
  providerMessageId: string | null;
  nextAttemptAt: Date | null;
}

/** Campaign sends, keyed by idempotency key: the key is recorded before any provider call. */
export interface SendStore {
  /** Records the send as queued, or returns the existing record for the key. */
  claim(input: Pick<SendRecord, "idempotencyKey" | "campaignId" | "runId" | "userId" | "channel" | "transitionId">, now: Date): Promise<{ record: SendRecord; created: boolean }>;
  /** queued → sending, counting the attempt. False when another worker got there first. */
  markSending(id: number, now: Date): Promise<boolean>;
  markSent(id: number, providerMessageId: string | null, now: Date): Promise<void>;
  markFailed(id: number, reason: string, now: Date): Promise<void>;
  markSkipped(id: number, reason: string, now: Date): Promise<void>;
  /** Back to queued, to be tried again at `at` (retry backoff, quiet hours, rate limit). */
  requeue(id: number, at: Date, reason: string, now: Date): Promise<void>;
  /** Queued records due at `now` (deferred or retrying), oldest first. */
  due(now: Date, limit: number): Promise<SendRecord[]>;
  /** Records left in `sending` before `before` (a crash mid-call): their outcome is unknown. */
  stuckSending(before: Date, limit: number): Promise<SendRecord[]>;
  /** When this user was last sent anything since `since` (frequency caps across campaigns). */
  sentTimes(userId: string, since: Date): Promise<number[]>;
}
