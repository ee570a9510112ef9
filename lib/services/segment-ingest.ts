import { z } from "zod";
import type { AuditLog } from "@/lib/ports/auth";
import { AppError, formatPath, notFound, validationError, type FieldIssue } from "@/lib/errors";
import { validateEvents, type UserEventInput } from "@/lib/events/schema";
import {
  effectiveEventMap,
  mapIdentify,
  mapTrack,
  otherMessageName,
  parseSegmentBatch,
  parseSegmentMessage,
  segmentBatchSchema,
  type ParsedMessages,
  type SegmentEventMap,
  type TraitUpdate,
} from "@/lib/integrations/segment-spec";
import type { Actor, ApiKeyStore } from "@/lib/ports/auth";
import type { EventLog } from "@/lib/ports/event-log";
import type { ProfileStore } from "@/lib/ports/profiles";
import type { SegmentIngestStore, UnmappedSample } from "@/lib/ports/segment-ingest";
import { eventTypes, type EventType } from "@/lib/segments/definition";
import { authenticate, requireScope } from "./auth";
import { ingestEvents } from "./ingest";
import { putProfile } from "./users";

/**
 * Segment-spec ingestion: POST /v1/track, /v1/identify, /v1/batch (and the same under
 * /api/v1/segment/…), so Segment's SDKs send to us unchanged.
 *
 * - The write key is the Basic auth user name (the SDKs' way), or a Bearer key, or the body's
 *   `writeKey`; it must be an API key holding the `ingest` scope.
 * - track → one of our events through the event-name mapping (lib/integrations/segment-spec.ts);
 *   a name no mapping knows, and page/screen/group/alias, are counted per name
 *   (`segment_unmapped_events`) and not evaluated.
 * - `messageId` is deduplicated per write key for 24 hours: the ids are recorded in the same
 *   transaction that appends the events, committed only once the log has them, so a failed
 *   call leaves nothing behind and a retried one is dropped.
 * - identify merges traits into the profile (email, phone, time zone; the rest into
 *   attributes). It is a merge, harmless to repeat, so it is applied on every call, before the
 *   events, and is not deduplicated.
 * - A batch accepts its valid messages and lists the invalid ones (`rejected`, 200), as
 *   Segment does — an SDK drops a batch answered with 400. A batch with no valid message, and an
 *   invalid single call, are 400s.
 */
export interface SegmentIngestDeps {
  eventLog: EventLog;
  apiKeys: ApiKeyStore;
  adminApiKey?: string;
  store: SegmentIngestStore;
  profiles: ProfileStore;
  /** SEGMENT_EVENT_MAP; undefined: Segment's spec names (DEFAULT_SEGMENT_EVENT_MAP). */
  eventMap?: SegmentEventMap;
  onError?: (error: unknown, what: string) => void;
}

export type SegmentCall = "track" | "identify" | "batch";

export interface SegmentIngestResult {
  success: true;
  /** Valid messages in the call. */
  received: number;
  /** Events appended to user-events. */
  accepted: number;
  /** identify calls merged into profiles. */
  identified: number;
  /** Messages counted but not evaluated (no mapping, or page/screen/group/alias). */
  unmapped: number;
  /** Messages whose messageId was seen in the last 24 hours. */
  duplicates: number;
  /** Invalid messages of a batch, by field (`batch[3].event`). */
  rejected: FieldIssue[];
}

export const DEDUP_WINDOW_MS = 24 * 3600_000;
const PURGE_EVERY_MS = 10 * 60_000;
const MAPPING_TTL_MS = 5_000;

// ---- authentication ------------------------------------------------------------------------

const unauthorized = (reason: string) =>
  new AppError("UNAUTHORIZED", "Authentication required", { field: "Authorization", reason }, { "www-authenticate": 'Basic realm="audience-manager"' });

/**
 * The caller of a Segment call: `Authorization: Basic base64(writeKey:)` as the SDKs send it,
 * or `Bearer <key>`, or (no header) the body's `writeKey`. The key must hold `ingest`.
 */
export async function authenticateWriteKey(
  deps: Pick<SegmentIngestDeps, "apiKeys" | "adminApiKey">,
  authorization: string | null,
  bodyWriteKey: string | undefined,
  now: Date,
): Promise<Actor> {
  let key: string | undefined;
  if (authorization) {
    const basic = /^Basic\s+([A-Za-z0-9+/_-]+={0,2})\s*$/i.exec(authorization);
    if (basic) {
      const decoded = Buffer.from(basic[1]!, "base64").toString("utf8");
      key = decoded.split(":")[0];
    } else if (/^Bearer\s/i.test(authorization)) {
      key = authorization.replace(/^Bearer\s+/i, "").trim();
    } else {
      throw unauthorized("expected 'Basic <base64(writeKey:)>' or 'Bearer <key>'");
    }
  } else {
    key = bodyWriteKey;
  }
  if (!key) throw unauthorized("missing write key");
  if (/\s/.test(key)) throw unauthorized("invalid or revoked key");
  const actor = await authenticate(deps, `Bearer ${key}`, now);
  requireScope(actor, "ingest");
  return actor;
}

// ---- mappings ------------------------------------------------------------------------------

// Route bundles share a runtime's store object, so the cache hangs off it (via globalThis).
const KEY = Symbol.for("audience-manager.segment-mappings");
const g = globalThis as unknown as { [KEY]?: WeakMap<SegmentIngestStore, { until: number; map: Map<string, EventType> }> };
const mappingCache = () => (g[KEY] ??= new WeakMap());

async function storedMappings(store: SegmentIngestStore, nowMs: number): Promise<Map<string, EventType>> {
  const hit = mappingCache().get(store);
  if (hit && hit.until > nowMs) return hit.map;
  const map = new Map((await store.mappings()).map((m) => [m.eventName, m.eventType] as const));
  mappingCache().set(store, { until: nowMs + MAPPING_TTL_MS, map });
  return map;
}

export const putMappingSchema = z
  .object({
    eventName: z.string({ error: "must be a string" }).trim().min(1, { message: "must not be empty" }).max(200),
    eventType: z.enum(eventTypes, { error: `must be one of ${eventTypes.join(", ")}` }),
  })
  .strict();
export const deleteMappingQuerySchema = z.object({ eventName: z.string().min(1).max(200) });

/** GET /api/v1/segment/mappings: the mapping in force, where each entry comes from, and the unmapped names. */
export async function listMappings(deps: Pick<SegmentIngestDeps, "store" | "eventMap">) {
  const stored = await deps.store.mappings();
  const storedMap = new Map(stored.map((m) => [m.eventName, m.eventType] as const));
  const effective = effectiveEventMap(deps.eventMap, storedMap);
  const configuredSource = deps.eventMap ? "env" : "default";
  const configured = effectiveEventMap(deps.eventMap, new Map());
  return {
    mappings: [...effective].map(([eventName, eventType]) => ({
      eventName,
      eventType,
      source: storedMap.has(eventName)
        ? ("stored" as const)
        : (eventTypes as readonly string[]).includes(eventName) && configured.get(eventName) === eventName
          ? ("builtin" as const)
          : configuredSource,
    })),
    unmapped: await deps.store.unmapped(100),
  };
}

// PUT /api/v1/segment/mappings — store a mapping (it wins over SEGMENT_EVENT_MAP)
export async function putMapping(
  deps: Pick<SegmentIngestDeps, "store">,
  input: z.output<typeof putMappingSchema>,
  actor: string,
  now: Date,
  audit?: { log: AuditLog; traceId: string },
) {
  const row = await deps.store.putMapping(input.eventName, input.eventType, actor, now);
  mappingCache().delete(deps.store);
  await audit?.log.append({ actor, action: "segment_mapping.put", entityType: "segment_mapping", entityId: input.eventName, after: input, traceId: audit.traceId, at: now });
  return row;
}

// DELETE /api/v1/segment/mappings?eventName= — forget a stored mapping
export async function deleteMapping(
  deps: Pick<SegmentIngestDeps, "store">,
  eventName: string,
  audit?: { log: AuditLog; actor: string; traceId: string; now: Date },
) {
  if (!(await deps.store.deleteMapping(eventName))) throw notFound("Stored mapping", eventName);
  mappingCache().delete(deps.store);
  await audit?.log.append({ actor: audit.actor, action: "segment_mapping.delete", entityType: "segment_mapping", entityId: eventName, traceId: audit.traceId, at: audit.now });
}

// ---- ingestion -----------------------------------------------------------------------------

const lastPurge = new WeakMap<SegmentIngestStore, number>();

/** Segment's field for our `attributes` is `properties`. */
const segmentField = (issue: FieldIssue): FieldIssue => ({ ...issue, field: issue.field.replace(/(^|\.)attributes(?=$|[.[])/, "$1properties") });

/** Parses, maps and ingests one Segment call for an authenticated caller. */
export async function ingestSegmentCall(
  deps: SegmentIngestDeps,
  call: SegmentCall,
  body: unknown,
  ctx: { actor: Actor; now: Date; traceId: string },
): Promise<SegmentIngestResult> {
  const nowMs = ctx.now.getTime();
  let parsed: ParsedMessages;
  if (call === "batch") {
    const envelope = segmentBatchSchema.safeParse(body);
    if (!envelope.success) {
      throw validationError(envelope.error.issues.map((i) => ({ field: formatPath(i.path) || "body", reason: i.message })));
    }
    parsed = parseSegmentBatch(envelope.data);
  } else {
    const r = parseSegmentMessage(body, call);
    if (!r.ok) throw validationError(r.issues);
    parsed = { messages: [{ index: 0, message: r.message }], issues: [] };
  }
  const prefix = (index: number): PropertyKey[] => (call === "batch" ? ["batch", index] : []);

  const map = effectiveEventMap(deps.eventMap, await storedMappings(deps.store, nowMs));
  const rejected = [...parsed.issues];
  const events: { messageId?: string; input: UserEventInput }[] = [];
  const others: { messageId?: string; sample: UnmappedSample }[] = [];
  const identifies: TraitUpdate[] = [];
  for (const { index, message } of parsed.messages) {
    switch (message.type) {
      case "track": {
        const mapped = mapTrack(message, map, nowMs);
        if (mapped.kind === "unmapped") {
          others.push({ messageId: message.messageId, sample: { name: mapped.name, userId: mapped.userId, properties: mapped.properties } });
          break;
        }
        const check = validateEvents([mapped.event], nowMs, () => prefix(index));
        if (!check.ok) {
          rejected.push(...check.issues.map(segmentField));
          break;
        }
        events.push({ messageId: message.messageId, input: mapped.event });
        break;
      }
      case "identify":
        identifies.push(mapIdentify(message));
        break;
      case "page":
      case "screen":
      case "group":
      case "alias":
        others.push({
          messageId: message.messageId,
          sample: { name: otherMessageName(message.type), userId: message.userId || message.anonymousId || null, properties: message.properties ?? message.traits ?? {} },
        });
        break;
      default: {
        const never: never = message;
        throw new Error(`unhandled Segment message ${JSON.stringify(never)}`);
      }
    }
  }
  const valid = events.length + identifies.length + others.length;
  if (call !== "batch" && rejected.length > 0) throw validationError(rejected, "The message is invalid; it was not accepted");
  if (valid === 0) throw validationError(rejected, "No message in the batch is valid; none was accepted");

  // identify: a merge into the profile, applied every time (see the header).
  for (const update of identifies) await mergeTraits(deps, update, ctx.now);

  // track and the rest: once per messageId, appended in the transaction that records the ids.
  let accepted = 0;
  let unmapped = 0;
  let duplicates = 0;
  if (events.length + others.length > 0) {
    const ids = [...events, ...others].flatMap((m) => (m.messageId ? [m.messageId] : []));
    await deps.store.once(ctx.actor.id, ids, ctx.now, new Date(nowMs - DEDUP_WINDOW_MS), async (fresh) => {
      const taken = new Set<string>();
      const isNew = (id: string | undefined) => {
        if (id === undefined) return true;
        if (!fresh.has(id) || taken.has(id)) return false;
        taken.add(id);
        return true;
      };
      accepted = 0;
      unmapped = 0;
      duplicates = 0;
      const toAppend: UserEventInput[] = [];
      for (const e of events) {
        if (isNew(e.messageId)) toAppend.push(e.input);
        else duplicates++;
      }
      const samples: UnmappedSample[] = [];
      for (const o of others) {
        if (isNew(o.messageId)) samples.push(o.sample);
        else duplicates++;
      }
      if (toAppend.length > 0) accepted = (await ingestEvents({ eventLog: deps.eventLog }, toAppend, ctx)).accepted;
      unmapped = samples.length;
      return samples;
    });
  }
  purgeNowAndThen(deps, nowMs);
  return { success: true, received: valid, accepted, identified: identifies.length, unmapped, duplicates, rejected };
}

async function mergeTraits(deps: SegmentIngestDeps, update: TraitUpdate, now: Date): Promise<void> {
  const existing = await deps.profiles.get(update.userId);
  await putProfile(
    deps,
    update.userId,
    {
      email: update.email ?? existing?.email ?? null,
      phone: update.phone ?? existing?.phone ?? null,
      deviceTokens: existing?.deviceTokens ?? [],
      timezone: update.timezone ?? existing?.timezone ?? null,
      attributes: { ...existing?.attributes, ...update.attributes },
    },
    now,
  );
}

/** Forgets message ids older than the dedup window, at most every 10 minutes per process. */
function purgeNowAndThen(deps: SegmentIngestDeps, nowMs: number): void {
  const last = lastPurge.get(deps.store) ?? 0;
  if (nowMs - last < PURGE_EVERY_MS) return;
  lastPurge.set(deps.store, nowMs);
  deps.store.purgeMessageIds(new Date(nowMs - DEDUP_WINDOW_MS)).catch((error: unknown) => deps.onError?.(error, "purging segment message ids"));
}
