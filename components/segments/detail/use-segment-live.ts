"use client";
import { useCallback, useState } from "react";
import type { SegmentChannelMessage, SegmentSnapshotMessage, SegmentTransitionMessage } from "@/lib/realtime/messages";
import { useRealtime, type RealtimeStatus } from "@/lib/ui/realtime";

export interface SegmentLive {
  status: RealtimeStatus;
  snapshot: SegmentSnapshotMessage | null;
  /** Newest first, at most `keep`, deduplicated by transition id. */
  transitions: SegmentTransitionMessage[];
  /** Transitions not sent because of the per-connection rate limit. */
  skipped: number;
  /** The segment was deleted while the page was open. */
  deleted: boolean;
}

/** The segment's realtime channel (docs/realtime.md) as React state. */
export function useSegmentLive(segmentId: string, keep = 30): SegmentLive {
  const [snapshot, setSnapshot] = useState<SegmentSnapshotMessage | null>(null);
  const [transitions, setTransitions] = useState<SegmentTransitionMessage[]>([]);
  const [skipped, setSkipped] = useState(0);
  const [deleted, setDeleted] = useState(false);
  const onMessage = useCallback(
    (m: SegmentChannelMessage) => {
      switch (m.type) {
        case "snapshot":
          setSnapshot(m);
          return;
        case "transition":
          setTransitions((list) => (list.some((t) => t.id === m.id) ? list : [m, ...list].slice(0, keep)));
          return;
        case "skipped":
          setSkipped((n) => n + m.count);
          return;
        case "deleted":
          setDeleted(true);
          return;
        case "error":
          return;
      }
    },
    [keep],
  );
  const status = useRealtime<SegmentChannelMessage>(`/ws/segments/${segmentId}/realtime`, onMessage);
  return { status, snapshot, transitions, skipped, deleted };
}
