import pino, { type Logger } from "pino";
import { env } from "@/lib/env";

const KEY = Symbol.for("audience-manager.logger");
const g = globalThis as unknown as { [KEY]?: Logger };

/** The process's structured JSON logger (one per process, shared across Next's bundles). */
export function logger(): Logger {
  g[KEY] ??= pino({ level: env().NODE_ENV === "test" ? "silent" : env().LOG_LEVEL, base: { pid: process.pid } });
  return g[KEY];
}

/**
 * The Kafka / local-log header carrying the trace id of the request that produced a message
 * (set on user-events by ingestion, on segment-updates by definition changes), so a worker's log
 * lines about that message carry the same trace id as the route's.
 */
export const TRACE_HEADER = "trace-id";

/** The trace id a consumed message carries, if any. */
export const traceIdOf = (headers: Record<string, string> | undefined): string | undefined => headers?.[TRACE_HEADER];
