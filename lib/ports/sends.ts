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

/**
 * Campaign sends, keyed by idempotency key: the key is recorded before any provider call.
 *
 * Every status change is guarded by the status it leaves (`queued → sending → sent`, …) and
 * says whether it happened, so two workers that reach the same record (a sweep and a batch
 * run, two dispatcher processes) can never undo each other's decision: one wins, the other's
 * write is a no-op. A terminal status (sent, failed, skipped) is never left.
 */
export interface SendStore {
  /**
   * Records the send as queued, or returns the existing record for the key. A new record is due
   * at `leaseUntil`: the caller attempts it right away, and only if the caller dies first does a
   * sweep (`due`) pick it up, then.
   */
  claim(
    input: Pick<SendRecord, "idempotencyKey" | "campaignId" | "runId" | "userId" | "channel" | "transitionId">,
    now: Date,
    leaseUntil: Date,
  ): Promise<{ record: SendRecord; created: boolean }>;
  /** queued → sending, counting the attempt. False when another worker got there first. */
  markSending(id: number, now: Date): Promise<boolean>;
  /** sending → sent. */
  markSent(id: number, providerMessageId: string | null, now: Date): Promise<boolean>;
  /**
   * `from` → failed (after a failed call: from sending; after errors before any call: from
   * queued, with `countAttempt` as in `requeue`).
   */
  markFailed(id: number, reason: string, now: Date, from: "queued" | "sending", options?: { countAttempt?: boolean }): Promise<boolean>;
  /** queued → skipped (policy, missing address or variable, campaign gone). */
  markSkipped(id: number, reason: string, now: Date): Promise<boolean>;
  /**
   * `from` → queued, to be tried again at `at`: a deferral (quiet hours, rate limit, paused
   * campaign) from queued, a retry after a failed or unfinished call from sending. `countAttempt`
   * counts a failure that happened before any provider call (an unreadable profile), so such
   * retries stay bounded too.
   */
  requeue(id: number, at: Date, reason: string, now: Date, from: "queued" | "sending", options?: { countAttempt?: boolean }): Promise<boolean>;
  /**
   * Takes up to `limit` queued records due at `now` (the longest overdue; returned in id order)
   * for this caller: each is leased (due again only at `leaseUntil`), so no other caller takes
   * it meanwhile.
   */
  due(now: Date, limit: number, leaseUntil: Date): Promise<SendRecord[]>;
  /** Records left in `sending` before `before` (a crash mid-call): their outcome is unknown. */
  stuckSending(before: Date, limit: number): Promise<SendRecord[]>;
  /** When this user was last sent anything since `since` (frequency caps across campaigns). */
  sentTimes(userId: string, since: Date): Promise<number[]>;
}
