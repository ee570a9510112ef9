import { z } from "zod";
import type { EventLog, Subscription } from "@/lib/ports/event-log";
import { TOPICS } from "@/lib/topics";
import type { HubTransition, RealtimeHub } from "./hub";

/** Every `segment-memberships` message is parsed: payloads crossing a process boundary are not trusted. */
const membershipMessageSchema = z.object({
  id: z.string().min(1),
  userId: z.string().min(1),
  segmentId: z.string().min(1),
  kind: z.enum(["enter", "exit"]),
  at: z.number().finite(),
  cause: z.enum(["event", "time", "definition", "deactivated", "deleted", "erased"]),
  version: z.number().int(),
});

export interface MembershipFeedOptions {
  /** A consumer group of this process alone, so every web process sees every transition. */
  groupId: string;
  onMalformed?: (info: { partition: number; offset: string; error: string }) => void;
}

/**
 * Feeds the hub from `segment-memberships`: a group of its own, starting at the end (a web
 * process pushes what happens from now on; history is in the REST API). Offsets are never
 * committed (`commit: "manual"`): the group has nothing to resume, so it leaves nothing behind.
 * A message that does not parse is reported and skipped — the hub is an observer, it never
 * holds up the topic.
 */
export async function startMembershipFeed(
  eventLog: EventLog,
  hub: RealtimeHub,
  options: MembershipFeedOptions,
): Promise<Subscription> {
  return eventLog.subscribe({
    groupId: options.groupId,
    topics: [TOPICS.segmentMemberships],
    fromBeginning: false,
    commit: "manual",
    handleBatch: async (batch) => {
      for (const m of batch.messages) {
        let parsed: HubTransition;
        try {
          parsed = membershipMessageSchema.parse(JSON.parse(m.value));
        } catch (error) {
          options.onMalformed?.({
            partition: m.partition,
            offset: m.offset,
            error: error instanceof Error ? error.message.slice(0, 300) : String(error),
          });
          continue;
        }
        hub.publish(parsed);
      }
    },
  });
}
