/**
 * Privacy use cases (NFR20, seed §9.2–9.3; docs/privacy.md): erasure, export and key rotation.
 */
import type { UserErasedMessage } from "@/lib/events/schema";
import type { EventLog } from "@/lib/ports/event-log";
import type { MembershipHistory, MembershipStore } from "@/lib/ports/memberships";
import type { PrivacyStore } from "@/lib/ports/privacy";
import type { ProfileStore } from "@/lib/ports/profiles";
import type { SegmentStore } from "@/lib/ports/segments";
import type { UserEventArchive } from "@/lib/ports/user-events";
import { userRef, type Keyring } from "@/lib/privacy/crypto";
import type { RequestContext } from "@/lib/services/context";
import { presentEvent } from "@/lib/services/users";
import { TOPICS } from "@/lib/topics";

export interface PrivacyDeps {
  store: PrivacyStore;
  profiles: ProfileStore;
  memberships: MembershipStore;
  history: MembershipHistory;
  events: UserEventArchive;
  segments: Pick<SegmentStore, "names">;
  eventLog: EventLog;
  keys: Keyring;
}

/**
 * DELETE /api/v1/users/{id}: erases the user everywhere. Idempotent: erasing an unknown (or
 * already erased) user succeeds and removes nothing; repeat it to sweep up anything a worker
 * wrote for the user while the erasure was on its way (docs/privacy.md).
 *
 * 1. One transaction: profile, memberships, history, archived events, webhook deliveries
 *    deleted; campaign sends anonymised; the audit entry (naming the user by a keyed pseudonym).
 * 2. The serving store (Aerospike keeps its own record of the user).
 * 3. `user-erased` on `user-events`, keyed by the user: the processor owning their partition
 *    meets it after all their events, forgets their window state, deletes what it wrote since
 *    and checkpoints. Not acknowledged until the log has it (503 otherwise: retry the call).
 * 4. Stored checkpoints are scrubbed (those of consumer groups no longer running included).
 */
export async function eraseUser(deps: PrivacyDeps, userId: string, ctx: RequestContext) {
  const ref = userRef(deps.keys, userId);
  const removed = await deps.store.eraseUser(userId, {
    actor: ctx.actor,
    entityId: ref,
    traceId: ctx.traceId,
    at: ctx.now,
    details: { pseudonymKey: deps.keys.currentId },
  });
  await deps.memberships.eraseUser(userId);
  const message: UserErasedMessage = { kind: "user-erased", userId, at: ctx.now.getTime() };
  await deps.eventLog.append(TOPICS.userEvents, [{ key: userId, value: JSON.stringify(message) }]);
  removed.checkpoints = await deps.store.scrubCheckpoints(userId);
  return { userId, userRef: ref, erasedAt: ctx.now, removed };
}

const HISTORY_PAGE = 500;
const MAX_EXPORTED_EVENTS = 100_000;

/**
 * GET /api/v1/users/{id}/export: everything held about the user, as JSON (portability): the
 * profile decrypted, current segments, the whole membership history, archived events, campaign
 * sends and webhook deliveries. Audited (by pseudonym): an export discloses personal data.
 */
export async function exportUser(deps: PrivacyDeps, userId: string, ctx: RequestContext) {
  const [profile, current, events, sends, webhookDeliveries] = await Promise.all([
    deps.profiles.get(userId),
    deps.memberships.segmentsOf(userId),
    deps.events.recent(userId, 0, MAX_EXPORTED_EVENTS),
    deps.store.sendsOf(userId),
    deps.store.webhookDeliveriesOf(userId),
  ]);
  const history = [];
  for (let before: string | undefined; ; ) {
    const page = await deps.history.ofUser(userId, { before, limit: HISTORY_PAGE });
    history.push(...page.entries);
    if (!page.next) break;
    before = page.next;
  }
  const names = await deps.segments.names([...new Set([...current, ...history].map((m) => m.segmentId))]);
  await deps.store.audit({
    actor: ctx.actor,
    action: "user.exported",
    entityType: "user",
    entityId: userRef(deps.keys, userId),
    after: { pseudonymKey: deps.keys.currentId },
    traceId: ctx.traceId,
    at: ctx.now,
  });
  return {
    userId,
    exportedAt: ctx.now,
    profile,
    segments: current.map((m) => ({ ...m, segmentName: names.get(m.segmentId) ?? null })),
    history: history.map((h) => ({ ...h, segmentName: names.get(h.segmentId) ?? null })),
    events: events.map(presentEvent),
    campaignSends: sends,
    webhookDeliveries: webhookDeliveries.map((d) => ({ ...d, payload: parseJson(d.payload) })),
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * POST /api/v1/admin/privacy/rewrap: re-encrypts every profile not under the current key (after
 * a rotation: put the new key first in PII_KEYS, restart, run this, then drop the old key once
 * `unreadable` and a second run's `scanned` are 0). Audited.
 */
export async function rewrapPersonalData(deps: Pick<PrivacyDeps, "profiles" | "store" | "keys">, ctx: RequestContext) {
  const result = await deps.profiles.rewrap();
  await deps.store.audit({
    actor: ctx.actor,
    action: "privacy.rewrapped",
    entityType: "pii-key",
    entityId: deps.keys.currentId,
    after: result,
    traceId: ctx.traceId,
    at: ctx.now,
  });
  return { currentKeyId: deps.keys.currentId, keyIds: [...deps.keys.keys.keys()], ...result };
}
