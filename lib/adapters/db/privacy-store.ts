import { promisify } from "node:util";
import { gunzip, gzip } from "node:zlib";
import { sql, type SQL } from "drizzle-orm";
import type { Database } from "@/db/client";
import type { PartitionSnapshot } from "@/lib/evaluation/engine";
import type { ErasureCounts, ExportedDelivery, ExportedSend, PrivacyStore, PurgeCounts } from "@/lib/ports/privacy";

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

/** Held (transaction-scoped) by the process running a retention purge: pm2's others skip it. */
const RETENTION_LOCK = 7265110003;

type Executor = Pick<Database, "execute">;

// Both drivers answer execute() with { rows }.
async function rows<T>(db: Executor, query: SQL): Promise<T[]> {
  return ((await db.execute(query)) as unknown as { rows: T[] }).rows;
}

async function count(db: Executor, statement: SQL): Promise<number> {
  const [r] = await rows<{ n: string | number }>(db, sql`with done as (${statement} returning 1) select count(*) as n from done`);
  return Number(r?.n ?? 0);
}

const date = (v: string | Date | null): Date | null => (v === null ? null : v instanceof Date ? v : new Date(v));

export function createPrivacyStore(db: Database): PrivacyStore {
  return {
    eraseUser(userId, audit) {
      return db.transaction(async (tx) => {
        const counts: ErasureCounts = {
          profiles: await count(tx, sql`delete from user_profiles where user_id = ${userId}`),
          memberships: await count(tx, sql`delete from user_segment_memberships where user_id = ${userId}`),
          history: await count(tx, sql`delete from user_segment_history where user_id = ${userId}`),
          events: await count(tx, sql`delete from user_events where user_id = ${userId}`),
          // Kept for the campaigns' counts (status, channel, times), with nothing that names the
          // user: no id (the empty id no real user can have), no transition or provider message
          // id, provider error texts cut to their kind (they can quote the address). A send not
          // yet made never will be.
          sendsAnonymised: await count(
            tx,
            sql`update campaign_sends set
                  user_id = '',
                  idempotency_key = 'erased:' || id,
                  transition_id = null,
                  provider_message_id = null,
                  reason = case
                    when status in ('queued', 'sending') then 'user_erased'
                    when status = 'failed' then split_part(reason, ':', 1)
                    else reason end,
                  status = case when status in ('queued', 'sending') then 'skipped' else status end,
                  next_attempt_at = null,
                  updated_at = ${audit.at.toISOString()}::timestamptz
                where user_id = ${userId}`,
          ),
          webhookDeliveries: await count(tx, sql`delete from webhook_deliveries where user_id = ${userId}`),
          unmappedSamples: await count(
            tx,
            sql`update segment_unmapped_events set last_user_id = null, last_properties = '{}'::jsonb where last_user_id = ${userId}`,
          ),
          checkpoints: 0,
        };
        await tx.execute(
          sql`insert into audit_log (at, actor, action, entity_type, entity_id, before, after, trace_id)
              values (${audit.at.toISOString()}::timestamptz, ${audit.actor}, 'user.erased', 'user', ${audit.entityId}, null,
                      ${JSON.stringify({ ...audit.details, removed: counts })}::jsonb, ${audit.traceId ?? null})`,
        );
        return counts;
      });
    },

    async scrubCheckpoints(userId) {
      // One snapshot in memory at a time; only those holding the user are rewritten, and only if
      // the processor has not replaced them meanwhile (its next checkpoint no longer holds the
      // user once it has applied the erasure message).
      const keys = await rows<{ group_id: string; topic: string; partition: number }>(
        db,
        sql`select group_id, topic, partition from processor_checkpoints order by group_id, topic, partition`,
      );
      const needle = Buffer.from(`${JSON.stringify(userId)}:`);
      let changed = 0;
      for (const k of keys) {
        const [row] = await rows<{ offset: string; snapshot: Buffer | Uint8Array }>(
          db,
          sql`select "offset", snapshot from processor_checkpoints
              where group_id = ${k.group_id} and topic = ${k.topic} and partition = ${k.partition}`,
        );
        if (!row) continue;
        const json = await gunzipAsync(Buffer.from(row.snapshot));
        if (json.indexOf(needle) < 0) continue;
        const snapshot = JSON.parse(json.toString("utf8")) as PartitionSnapshot;
        if (!(userId in snapshot.users)) continue;
        delete snapshot.users[userId];
        const packed = await gzipAsync(Buffer.from(JSON.stringify(snapshot)));
        changed += await count(
          db,
          sql`update processor_checkpoints set snapshot = ${packed}
              where group_id = ${k.group_id} and topic = ${k.topic} and partition = ${k.partition} and "offset" = ${row.offset}`,
        );
      }
      return changed;
    },

    async sendsOf(userId) {
      const r = await rows<{
        campaign_id: string;
        campaign_name: string | null;
        channel: string;
        status: string;
        reason: string | null;
        attempts: number;
        created_at: string | Date;
        sent_at: string | Date | null;
      }>(
        db,
        sql`select s.campaign_id, c.name as campaign_name, s.channel, s.status, s.reason, s.attempts, s.created_at, s.sent_at
            from campaign_sends s left join campaigns c on c.id = s.campaign_id
            where s.user_id = ${userId} order by s.created_at, s.id`,
      );
      return r.map(
        (x): ExportedSend => ({
          campaignId: x.campaign_id,
          campaignName: x.campaign_name,
          channel: x.channel,
          status: x.status,
          reason: x.reason,
          attempts: Number(x.attempts),
          createdAt: date(x.created_at)!,
          sentAt: date(x.sent_at),
        }),
      );
    },

    async webhookDeliveriesOf(userId) {
      const r = await rows<{
        subscription_id: string;
        event: string;
        segment_id: string;
        status: string;
        payload: string;
        created_at: string | Date;
        delivered_at: string | Date | null;
      }>(
        db,
        sql`select subscription_id, event, segment_id, status, payload, created_at, delivered_at
            from webhook_deliveries where user_id = ${userId} order by created_at, id`,
      );
      return r.map(
        (x): ExportedDelivery => ({
          subscriptionId: x.subscription_id,
          event: x.event,
          segmentId: x.segment_id,
          status: x.status,
          payload: x.payload,
          createdAt: date(x.created_at)!,
          deliveredAt: date(x.delivered_at),
        }),
      );
    },

    purgeBefore(cutoff, limit) {
      const at = cutoff.toISOString();
      return db.transaction(async (tx): Promise<PurgeCounts | null> => {
        const [lock] = await rows<{ ok: boolean }>(tx, sql`select pg_try_advisory_xact_lock(${RETENTION_LOCK}) as ok`);
        if (!lock?.ok) return null;
        return {
          // Closed entries only: an open one is a current membership.
          history: await count(
            tx,
            sql`delete from user_segment_history where id in (
                  select id from user_segment_history where exited_at < ${at}::timestamptz limit ${limit})`,
          ),
          // Finished sends only: a queued or in-flight one still guards its idempotency key.
          sends: await count(
            tx,
            sql`delete from campaign_sends where id in (
                  select id from campaign_sends
                  where created_at < ${at}::timestamptz and status in ('sent', 'failed', 'skipped') limit ${limit})`,
          ),
          audit: await count(
            tx,
            sql`delete from audit_log where id in (select id from audit_log where at < ${at}::timestamptz limit ${limit})`,
          ),
        };
      });
    },

    async audit(e) {
      await db.execute(
        sql`insert into audit_log (at, actor, action, entity_type, entity_id, after, trace_id)
            values (${e.at.toISOString()}::timestamptz, ${e.actor}, ${e.action}, ${e.entityType}, ${e.entityId},
                    ${JSON.stringify(e.after)}::jsonb, ${e.traceId ?? null})`,
      );
    },
  };
}
