/**
 * What the privacy use cases (erasure, export, retention; docs/privacy.md) need from the
 * database beyond the profile, membership and event-archive ports.
 */

/** Rows removed (or anonymised) by an erasure, per store. */
export interface ErasureCounts {
  profiles: number;
  memberships: number;
  history: number;
  events: number;
  /** Campaign sends kept for the campaign's counts, with everything naming the user removed. */
  sendsAnonymised: number;
  webhookDeliveries: number;
  /** Segment-spec unmapped-event samples that named the user. */
  unmappedSamples: number;
  /** Processor checkpoints the user was removed from. */
  checkpoints: number;
}

export interface ErasureAudit {
  actor: string;
  /** The user's keyed pseudonym (never the id itself). */
  entityId: string;
  traceId?: string;
  at: Date;
  /** Extra facts for the entry (e.g. the key id of the pseudonym). */
  details: Record<string, unknown>;
}

/** A campaign send as exported to the user. */
export interface ExportedSend {
  campaignId: string;
  campaignName: string | null;
  channel: string;
  status: string;
  reason: string | null;
  attempts: number;
  createdAt: Date;
  sentAt: Date | null;
}

/** A webhook delivery about the user as exported to them. */
export interface ExportedDelivery {
  subscriptionId: string;
  event: string;
  segmentId: string;
  status: string;
  /** The JSON body sent to the subscriber. */
  payload: string;
  createdAt: Date;
  deliveredAt: Date | null;
}

export interface PurgeCounts {
  history: number;
  sends: number;
  audit: number;
}

export interface PrivacyStore {
  /**
   * In one transaction: deletes the user's profile, memberships (the PostgreSQL table), history,
   * archived events and webhook deliveries, anonymises their campaign sends, clears samples that
   * name them, and appends the audit entry with the counts.
   */
  eraseUser(userId: string, audit: ErasureAudit): Promise<ErasureCounts>;
  /** Removes the user from every stored processor checkpoint; returns how many changed. */
  scrubCheckpoints(userId: string): Promise<number>;
  sendsOf(userId: string): Promise<ExportedSend[]>;
  webhookDeliveriesOf(userId: string): Promise<ExportedDelivery[]>;
  /**
   * Retention: deletes up to `limit` rows per table older than `cutoff` (closed history entries,
   * finished sends, audit entries). Null when another process is purging (a lock is held).
   */
  purgeBefore(cutoff: Date, limit: number): Promise<PurgeCounts | null>;
  /** Appends an audit entry (the retention job records what it purged). */
  audit(entry: { actor: string; action: string; entityType: string; entityId: string; after: unknown; traceId?: string; at: Date }): Promise<void>;
}
