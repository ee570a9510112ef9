import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/**
 * The process's Prometheus metrics (prom-client). One registry per process, shared through
 * globalThis: Next bundles route handlers apart from server.ts, and a module-level registry
 * would be one per bundle.
 *
 * Served by GET /api/metrics (web) and by the METRICS_PORT of any process (lib/metrics/server.ts).
 * Counters count what this process did since it started; Prometheus sums the processes.
 */
export interface Metrics {
  registry: Registry;
  /** REST calls by method, route pattern (`/api/v1/segments/[segmentId]`) and status. */
  httpDuration: Histogram<"method" | "route" | "status">;
  /** Events appended to user-events by the REST API. */
  eventsIngested: Counter<"source">;
  /** Events refused: `invalid` (the batch failed validation; all of it counts), `unavailable` (the log refused the append). */
  eventsRejected: Counter<"source" | "reason">;
  /** Messages a consumer has yet to handle in a partition (highWatermark − last handled − 1). */
  consumerLag: Gauge<"consumer" | "topic" | "partition">;
  /** Time a consumer took to handle one batch (including its writes). */
  consumerBatchDuration: Histogram<"consumer" | "topic">;
  /** From an event's append to user-events until the processor has evaluated and persisted it. */
  evaluationLatency: Histogram;
  /** Segment entries and exits recorded, by cause (event, window, definition, deactivated, deleted …). */
  transitions: Counter<"kind" | "cause">;
  /** Campaign sends entering a status: queued, sending, sent, failed, skipped, requeued. */
  sends: Counter<"status">;
  /** Requests answered 429, by the limit hit (ip, key, ingest). */
  rateLimited: Counter<"limit">;
}

const KEY = Symbol.for("audience-manager.metrics");
const g = globalThis as unknown as { [KEY]?: Metrics };

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const PIPELINE_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

function create(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    httpDuration: new Histogram({
      name: "audience_http_request_duration_seconds",
      help: "REST API latency by method, route and status",
      labelNames: ["method", "route", "status"],
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    eventsIngested: new Counter({
      name: "audience_events_ingested_total",
      help: "Events accepted (durable in user-events)",
      labelNames: ["source"],
      registers,
    }),
    eventsRejected: new Counter({
      name: "audience_events_rejected_total",
      help: "Events not accepted, by reason (invalid, unavailable)",
      labelNames: ["source", "reason"],
      registers,
    }),
    consumerLag: new Gauge({
      name: "audience_consumer_lag_messages",
      help: "Messages appended to a partition that this consumer has not handled yet",
      labelNames: ["consumer", "topic", "partition"],
      registers,
    }),
    consumerBatchDuration: new Histogram({
      name: "audience_consumer_batch_duration_seconds",
      help: "Time to handle one consumed batch",
      labelNames: ["consumer", "topic"],
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    evaluationLatency: new Histogram({
      name: "audience_evaluation_latency_seconds",
      help: "From an event's append to user-events until it is evaluated and its transitions persisted",
      buckets: PIPELINE_BUCKETS,
      registers,
    }),
    transitions: new Counter({
      name: "audience_segment_transitions_total",
      help: "Segment entries and exits recorded, by kind and cause",
      labelNames: ["kind", "cause"],
      registers,
    }),
    sends: new Counter({
      name: "audience_campaign_sends_total",
      help: "Campaign sends entering each status",
      labelNames: ["status"],
      registers,
    }),
    rateLimited: new Counter({
      name: "audience_rate_limited_total",
      help: "Requests refused with 429, by limit",
      labelNames: ["limit"],
      registers,
    }),
  };
}

/** The process's metrics, created on first use. */
export function metrics(): Metrics {
  g[KEY] ??= create();
  return g[KEY];
}

/** The exposition text and its content type. */
export async function metricsText(): Promise<{ body: string; contentType: string }> {
  const { registry } = metrics();
  return { body: await registry.metrics(), contentType: registry.contentType };
}

const MAX_ROUTE_LABELS = 500;
const ROUTES = Symbol.for("audience-manager.metrics.routes");
const gr = globalThis as unknown as { [ROUTES]?: Set<string> };

/**
 * The route pattern of a request for the `route` label: each path segment equal to a param's
 * value is replaced by `[name]` (`/api/v1/users/u1/segments` → `/api/v1/users/[userId]/segments`).
 * Past 500 distinct patterns (which the app's routes never reach) the label is `other`, so no
 * request can grow the series without bound.
 */
export function routeLabel(pathname: string, params: Record<string, string | string[]>): string {
  const byValue = new Map<string, string>();
  for (const [name, value] of Object.entries(params)) {
    if (typeof value === "string") byValue.set(value, name);
  }
  const label = pathname
    .split("/")
    .map((segment) => {
      let decoded = segment;
      try {
        decoded = decodeURIComponent(segment);
      } catch {
        // keep it raw
      }
      const name = byValue.get(decoded);
      return name ? `[${name}]` : segment;
    })
    .join("/");
  const seenRoutes = (gr[ROUTES] ??= new Set());
  if (seenRoutes.has(label)) return label;
  if (seenRoutes.size >= MAX_ROUTE_LABELS) return "other";
  seenRoutes.add(label);
  return label;
}
