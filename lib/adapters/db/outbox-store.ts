import { asc, inArray, isNull, sql } from "drizzle-orm";
import type { Database } from "@/db/client";
import { outbox } from "@/db/schema";
import type { OutboxStore } from "@/lib/ports/outbox";

const RELAY_LOCK = 7265110003;

export function createOutboxStore(db: Database): OutboxStore {
  return {
    drain: (limit, publish) =>
      db.transaction(async (tx) => {
        // Both drivers answer execute() with { rows }.
        const lock = (await tx.execute(sql`select pg_try_advisory_xact_lock(${RELAY_LOCK}) as ok`)) as {
          rows: { ok: boolean }[];
        };
        if (!lock.rows[0]?.ok) return 0;
        const rows = await tx.select().from(outbox).where(isNull(outbox.publishedAt)).orderBy(asc(outbox.id)).limit(limit);
        if (rows.length === 0) return 0;
        await publish(
          rows.map((r) => ({
            id: r.id,
            topic: r.topic,
            key: r.key,
            payload: r.payload,
            headers: (r.headers ?? {}) as Record<string, string>,
          })),
        );
        await tx
          .update(outbox)
          .set({ publishedAt: sql`now()` })
          .where(inArray(outbox.id, rows.map((r) => r.id)));
        return rows.length;
      }),
  };
}
