import { and, eq, sql } from "drizzle-orm";
import type { Database } from "@/db/client";
import { processorCheckpoints } from "@/db/schema";
import type { CheckpointStore } from "@/lib/ports/checkpoints";

export function createCheckpointStore(db: Database): CheckpointStore {
  return {
    async load(groupId, topic, partition) {
      const [row] = await db
        .select({ offset: processorCheckpoints.offset, snapshot: processorCheckpoints.snapshot })
        .from(processorCheckpoints)
        .where(
          and(
            eq(processorCheckpoints.groupId, groupId),
            eq(processorCheckpoints.topic, topic),
            eq(processorCheckpoints.partition, partition),
          ),
        );
      return row ?? null;
    },
    async save(groupId, topic, partition, { offset, snapshot }) {
      await db
        .insert(processorCheckpoints)
        .values({ groupId, topic, partition, offset, snapshot })
        .onConflictDoUpdate({
          target: [processorCheckpoints.groupId, processorCheckpoints.topic, processorCheckpoints.partition],
          set: { offset, snapshot, updatedAt: sql`now()` },
        });
    },
  };
}
