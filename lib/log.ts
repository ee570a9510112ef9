import pino, { type Logger } from "pino";
import { env } from "@/lib/env";

const KEY = Symbol.for("audience-manager.logger");
const g = globalThis as unknown as { [KEY]?: Logger };

/** The process's structured JSON logger (one per process, shared across Next's bundles). */
export function logger(): Logger {
  g[KEY] ??= pino({ level: env().NODE_ENV === "test" ? "silent" : env().LOG_LEVEL, base: { pid: process.pid } });
  return g[KEY];
}
