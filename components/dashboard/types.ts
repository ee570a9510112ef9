/** GET /api/v1/stats/overview as JSON (dates are strings). */
export interface Overview {
  at: string;
  windows: { eventsSeconds: number; lagSeconds: number; transitionsMinutes: number; growthMinutes: number; seriesMinutes: number };
  ingestion: { eventsPerSecond: number; eventsInWindow: number; lastEvaluatedAt: string | null; perMinute: { minute: string; events: number }[] };
  evaluationLag: { events: number; p50Ms: number; p95Ms: number; maxMs: number } | null;
  transitions: { perMinute: number; inWindow: number; series: { minute: string; entries: number; exits: number }[] };
  sends: { byStatus: Record<"queued" | "sending" | "sent" | "failed" | "skipped", number>; total: number };
  segments: {
    live: number;
    active: number;
    largest: { id: string; name: string; type: "INDEPENDENT" | "DERIVED"; members: number }[];
    fastestGrowing: { id: string; name: string; type: "INDEPENDENT" | "DERIVED"; members: number; entries: number; exits: number; net: number; growthPercent: number | null }[];
  };
  processor: {
    group: string;
    checkpoint: { groupId: string; partitions: number; oldest: string; newest: string } | null;
    inProcess: { partitions: number; users: number; usersToEvaluate: number; deadLetters: number; backlog: number | null } | null;
  };
  outbox: { pending: number; oldest: string | null };
}
