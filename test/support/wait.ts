import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";

/** Polls `probe` until `ok` holds, or fails naming `what` and the last value. */
export async function eventually<T>(
  probe: () => Promise<T> | T,
  ok: (v: T) => boolean,
  what: string,
  timeoutMs = 15_000,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (ok(v)) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}: last ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Starts `node --import tsx <script>` (a worker for the kill tests) and resolves once it prints
 * READY. KILL_TEST_DEBUG=1 echoes its output.
 */
export function startWorker(script: string, env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(process.cwd(), script)], {
    env: { ...process.env, ...env, NODE_ENV: "test", LOG_LEVEL: "warn" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let err = "";
  child.stderr!.on("data", (d: Buffer) => {
    err += d.toString();
    if (process.env.KILL_TEST_DEBUG) process.stderr.write(d);
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker did not start: ${err}`)), 60_000);
    child.stdout!.on("data", (d: Buffer) => {
      if (d.toString().includes("READY")) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.on("exit", (code) => reject(new Error(`worker exited with ${code}: ${err}`)));
  });
}
