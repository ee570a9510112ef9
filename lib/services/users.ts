import type { IngestedEvent } from "@/lib/events/schema";
import { AppError, notFound } from "@/lib/errors";
import type { AuditLog } from "@/lib/ports/auth";
import { userRef, type Keyring } from "@/lib/privacy/crypto";
import type { MembershipHistory, MembershipStore } from "@/lib/ports/memberships";
import type { SegmentStore } from "@/lib/ports/segments";
import type { ProfileInput, ProfileStore } from "@/lib/ports/profiles";
import type { UserEventArchive } from "@/lib/ports/user-events";
import { explainSegment } from "@/lib/evaluation/explain";
import type { EventLog } from "@/lib/ports/event-log";
import type { UserKnownMessage } from "@/lib/events/schema";
import { TOPICS } from "@/lib/topics";
import { referencedSegments } from "@/lib/segments/expression";
import { definitionOf, type SegmentDefinition } from "@/lib/segments/model";

export interface UserQueryDeps {
  memberships: MembershipStore;
  history: MembershipHistory;
  segments: Pick<SegmentStore, "names" | "get">;
}

/** Segment names change rarely and every lookup needs them: a short-lived cache per process. */
const NAME_TTL_MS = 5_000;
const nameCache = new Map<string, { name: string; until: number }>();

async function namesOf(deps: UserQueryDeps, ids: string[], now: number): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const missing: string[] = [];
  for (const id of new Set(ids)) {
    const hit = nameCache.get(id);
    if (hit && hit.until > now) out.set(id, hit.name);
    else missing.push(id);
  }
  if (missing.length > 0) {
    const fetched = await deps.segments.names(missing);
    for (const [id, name] of fetched) {
      nameCache.set(id, { name, until: now + NAME_TTL_MS });
      out.set(id, name);
    }
  }
  return out;
}

// GET /api/v1/users/{id}/segments: an unknown user is in no segment (200, empty list).
export async function userSegments(deps: UserQueryDeps, userId: string, now: Date) {
  const current = await deps.memberships.segmentsOf(userId);
  const names = await namesOf(deps, current.map((m) => m.segmentId), now.getTime());
  return {
    userId,
    segments: current.map((m) => ({
      segmentId: m.segmentId,
      name: names.get(m.segmentId) ?? null,
      enteredAt: m.enteredAt,
      version: m.version,
    })),
  };
}

// GET /api/v1/users/{id}/segments/history: entries and exits, newest first, cursor-paginated.
export async function userSegmentHistory(
  deps: UserQueryDeps,
  userId: string,
  page: { before?: string; limit: number },
  now: Date,
) {
  const { entries, next } = await deps.history.ofUser(userId, page);
  const names = await namesOf(deps, entries.map((e) => e.segmentId), now.getTime());
  return {
    userId,
    data: entries.map((e) => ({ ...e, segmentName: names.get(e.segmentId) ?? null })),
    next,
  };
}

// GET /api/v1/segments/{id}/members (search: user ids starting with it)
export async function segmentMembers(deps: UserQueryDeps, segmentId: string, page: { after?: string; limit: number; prefix?: string }) {
  const segment = await deps.segments.get(segmentId);
  if (!segment) throw notFound("Segment", segmentId);
  const result = await deps.memberships.members(segmentId, page);
  return { segmentId, data: result.members, next: result.next };
}

export function assertUserId(userId: string): string {
  if (userId.length === 0 || userId.length > 256) {
    throw new AppError("VALIDATION_ERROR", "Invalid user id", { field: "userId", reason: "1 to 256 characters" });
  }
  return userId;
}

const DAY_MS = 24 * 3600_000;

// GET /api/v1/users/{id}/segments/{segmentId}/explain: each rule's aggregate against its
// threshold (or, for a derived segment, the expression tree with each node's value), from the
// user's events of the last 24 hours.
export async function explainUserSegment(
  deps: { segments: Pick<SegmentStore, "get">; events: UserEventArchive },
  userId: string,
  segmentId: string,
  now: Date,
) {
  const root = await deps.segments.get(segmentId);
  if (!root) throw notFound("Segment", segmentId);
  const definitions = new Map<string, SegmentDefinition>([[root.id, definitionOf(root)]]);
  // Derived segments: load what the expression reaches, transitively.
  const queue = root.expressionTree ? referencedSegments(root.expressionTree) : [];
  while (queue.length > 0) {
    const id = queue.shift()!;
    if (definitions.has(id)) continue;
    const seg = await deps.segments.get(id);
    if (!seg) continue;
    definitions.set(id, definitionOf(seg));
    if (seg.expressionTree) queue.push(...referencedSegments(seg.expressionTree));
  }
  const events = await deps.events.recent(userId, now.getTime() - DAY_MS, 100_000);
  return { userId, at: now, ...explainSegment(definitions.get(root.id)!, definitions, events, now.getTime()) };
}

/** An archived event as the API shows it (the events endpoint and the export). */
export const presentEvent = (e: IngestedEvent) => ({
  eventId: e.eventId,
  eventType: e.eventType,
  timestamp: new Date(e.timestamp),
  receivedAt: new Date(e.receivedAt),
  attributes: e.attributes,
  sessionId: e.sessionId ?? null,
  deviceId: e.deviceId ?? null,
});

// GET /api/v1/users/{id}/events: the newest archived events of the last 24 hours (the archive's
// retention); an unknown user has none. The archive is written by the segment processor right
// after evaluation, so an event shows here once it has been evaluated.
export async function recentUserEvents(deps: { events: UserEventArchive }, userId: string, limit: number, now: Date) {
  const since = new Date(now.getTime() - DAY_MS);
  const events = await deps.events.recent(userId, since.getTime(), limit);
  return {
    userId,
    since,
    data: events.map(presentEvent),
  };
}

// GET /api/v1/users/{id}/profile: 404 for a user without a profile.
export async function getProfile(deps: { profiles: ProfileStore }, userId: string) {
  const profile = await deps.profiles.get(userId);
  if (!profile) throw notFound("Profile of user", userId);
  return profile;
}

// PUT /api/v1/users/{id}/profile: creates or replaces. A profile makes the user known to the
// segment processors (zero-event rules then hold for them), through user-events; sent on every
// PUT (a no-op for a known user) so a failed append is repaired by the client's retry.
export async function putProfile(
  deps: { profiles: ProfileStore; eventLog: EventLog },
  userId: string,
  input: ProfileInput,
  now: Date,
  audit?: ProfileAudit,
) {
  const result = await deps.profiles.put(userId, input, now);
  if (audit) {
    // Who changed which fields, never the values, and the user by a keyed pseudonym: the audit
    // log outlives an erasure, so it must not hold personal data (docs/privacy.md).
    await audit.log.append({
      actor: audit.actor,
      action: result.created ? "profile.create" : "profile.replace",
      entityType: "user",
      entityId: userRef(audit.keys, userId),
      after: { fields: Object.keys(input).sort(), pseudonymKey: audit.keys.currentId },
      traceId: audit.traceId,
      at: now,
    });
  }
  const message: UserKnownMessage = { kind: "user-known", userId, at: now.getTime() };
  await deps.eventLog.append(TOPICS.userEvents, [{ key: userId, value: JSON.stringify(message) }]);
  return result;
}

export interface ProfileAudit {
  log: AuditLog;
  keys: Keyring;
  actor: string;
  traceId: string;
}
