/**
 * Process lifecycle for the entry points (server.ts, workers/*\/main.ts): the environment is
 * parsed first and a bad variable stops the process naming it; SIGINT/SIGTERM run one ordered,
 * bounded shutdown.
 */
import { EnvError, parseEnv, type Env } from "@/lib/env";

/** The validated environment, or exit 1 with the variable and the reason on stderr. */
export function parseEnvOrExit(): Env {
  try {
    return parseEnv();
  } catch (error) {
    if (error instanceof EnvError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
}

/**
 * Runs `shutdown` once on SIGINT or SIGTERM, then exits 0; exits 1 if it takes longer than
 * `timeoutMs` (pm2's kill_timeout should be a little longer).
 */
export function onShutdown(shutdown: (signal: string) => Promise<void>, timeoutMs: number): void {
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    const force = setTimeout(() => process.exit(1), timeoutMs);
    force.unref();
    try {
      await shutdown(signal);
      process.exit(0);
    } catch (error) {
      console.error("shutdown failed:", error);
      process.exit(1);
    }
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
}
