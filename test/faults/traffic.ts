/**
 * Steady load for the fault tests: a few concurrent loops, each sending one request after the
 * other, recording every outcome (status, or the network error) with its time.
 */
export interface Outcome {
  kind: string;
  /** What the request was about (a user id for ingestion). */
  subject: string;
  /** HTTP status, or 0 when no answer came (connection refused or reset, timeout). */
  status: number;
  error?: string;
  body?: unknown;
  headers?: Headers;
  startedAt: number;
  ms: number;
}

export interface Traffic {
  outcomes: Outcome[];
  /** Resolves once every loop has finished its last request. */
  stop(): Promise<void>;
}

/**
 * Runs `loops` copies of `request(i)` back to back (i counts requests across loops) until
 * stopped; a loop waits `pauseMs` between requests.
 */
export function drive(
  loops: number,
  request: (i: number) => Promise<Omit<Outcome, "startedAt" | "ms">>,
  options: { pauseMs?: number } = {},
): Traffic {
  const outcomes: Outcome[] = [];
  let stopped = false;
  let next = 0;
  const loop = async () => {
    while (!stopped) {
      const i = next++;
      const startedAt = Date.now();
      const outcome = await request(i);
      outcomes.push({ ...outcome, startedAt, ms: Date.now() - startedAt });
      if (options.pauseMs) await new Promise((r) => setTimeout(r, options.pauseMs));
    }
  };
  const running = Promise.all(Array.from({ length: loops }, loop));
  return {
    outcomes,
    async stop() {
      stopped = true;
      await running;
    },
  };
}

/** A fetch whose failure to get an answer is an outcome (status 0), not an exception. */
export async function attempt(
  kind: string,
  subject: string,
  url: string,
  init: RequestInit & { timeoutMs?: number },
): Promise<Omit<Outcome, "startedAt" | "ms">> {
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(init.timeoutMs ?? 30_000) });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      /* kept as text */
    }
    return { kind, subject, status: res.status, body, headers: res.headers };
  } catch (error) {
    const e = error as Error & { cause?: { code?: string; message?: string } };
    return { kind, subject, status: 0, error: `${e.name}: ${e.message}${e.cause ? ` (${e.cause.code ?? ""} ${e.cause.message ?? ""})` : ""}` };
  }
}

/** Counts by `kind status`, for messages. */
export function tally(outcomes: Outcome[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const o of outcomes) {
    const key = `${o.kind} ${o.status}`;
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}
