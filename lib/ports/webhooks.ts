import type { WebhookEvent } from "@/lib/webhooks/webhook";

/** A webhook subscription as the API shows it: never the secret. */
export interface WebhookSubscription {
  id: string;
  description: string | null;
  url: string;
  /** Null: every segment. */
  segmentId: string | null;
  events: WebhookEvent[];
  enabled: boolean;
  disabledReason: string | null;
  disabledAt: Date | null;
  consecutiveFailures: number;
  /** The secret's last characters, to recognise it. */
  secretHint: string;
  createdBy: string;
  createdAt: Date;
  updatedAt: Date;
}

export interface NewWebhookSubscription {
  description: string | null;
  url: string;
  segmentId: string | null;
  events: WebhookEvent[];
  enabled: boolean;
  secretCiphertext: string;
  secretHint: string;
  createdBy: string;
}

export type WebhookSubscriptionPatch = Partial<
  Pick<NewWebhookSubscription, "description" | "url" | "segmentId" | "events" | "secretCiphertext" | "secretHint">
> & { enabled?: boolean };

export interface AttemptLogEntry {
  at: string;
  responseCode: number | null;
  error: string | null;
  durationMs: number;
}

export interface WebhookDelivery {
  id: string;
  subscriptionId: string;
  transitionId: string;
  event: WebhookEvent;
  segmentId: string;
  userId: string;
  status: "pending" | "delivered" | "failed";
  attempts: number;
  nextAttemptAt: Date | null;
  lastAttemptAt: Date | null;
  lastResponseCode: number | null;
  lastError: string | null;
  attemptLog: AttemptLogEntry[];
  createdAt: Date;
  deliveredAt: Date | null;
}

/** A delivery claimed for an attempt, with what the attempt needs. */
export interface ClaimedDelivery extends WebhookDelivery {
  payload: string;
  url: string;
  secretCiphertext: string;
}

export interface NewDelivery {
  /** The delivery id, chosen by the caller; kept only if the row is new. */
  id: string;
  subscriptionId: string;
  transitionId: string;
  event: WebhookEvent;
  segmentId: string;
  userId: string;
  /** The JSON body, carrying `id`. */
  payload: string;
}

export interface WebhookStore {
  create(input: NewWebhookSubscription, now: Date): Promise<WebhookSubscription>;
  /** Oldest first, after the cursor (an id). */
  list(page: { after?: string; limit: number }): Promise<{ data: WebhookSubscription[]; next: string | null }>;
  get(id: string): Promise<WebhookSubscription | null>;
  /** Enabling clears the failure count and the disabled reason; disabling records `reason`. */
  update(id: string, patch: WebhookSubscriptionPatch, now: Date, reason?: string): Promise<WebhookSubscription | null>;
  /** Deletes it with its deliveries; false when there was none. */
  delete(id: string): Promise<boolean>;
  /** Newest first. */
  deliveries(
    subscriptionId: string,
    page: { before?: string; limit: number; status?: WebhookDelivery["status"] },
  ): Promise<{ data: WebhookDelivery[]; next: string | null }>;
  /** Enabled subscriptions of any of these segments, and the global ones. */
  matching(segmentIds: readonly string[]): Promise<WebhookSubscription[]>;
  /** Records deliveries (pending, due `now`); one per (subscription, transition): repeats are ignored. */
  enqueue(deliveries: readonly NewDelivery[], now: Date): Promise<void>;
  /**
   * Claims up to `limit` pending deliveries due at `now` of enabled subscriptions, pushing their
   * due time to `leaseUntil` so no other worker takes them meanwhile (a crashed worker's claim
   * runs out and the delivery is attempted again: at least once).
   */
  claimDue(now: Date, leaseUntil: Date, limit: number): Promise<ClaimedDelivery[]>;
  recordSuccess(delivery: ClaimedDelivery, attempt: AttemptLogEntry, now: Date): Promise<void>;
  /**
   * Records a failed attempt: the delivery is retried at `retryAt`, or failed when null; the
   * subscription's failure count grows, and at `disableAfter` it is disabled with `reason`.
   * Returns whether this failure disabled it.
   */
  recordFailure(
    delivery: ClaimedDelivery,
    attempt: AttemptLogEntry,
    retryAt: Date | null,
    disable: { after: number; reason: (failures: number) => string },
    now: Date,
  ): Promise<{ disabled: boolean }>;
}
