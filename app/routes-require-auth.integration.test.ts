import { readdirSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installRuntime, uninstallRuntime } from "@/lib/runtime";
import type { NextRouteHandler } from "@/lib/http/route";
import { engineCases, openTestRuntime } from "@/test/support/engines";
import { expectSeedError } from "@/test/support/http";

/**
 * Every route handler under app/ — found on disk, so a route added tomorrow is covered — must
 * refuse a call without credentials with 401 in the seed's error format. Only the routes named
 * here are public, each for a stated reason.
 */
const PUBLIC_ROUTES: Record<string, string> = {
  "/api/auth/[...nextauth]": "next-auth's own sign-in, sign-out, session and CSRF endpoints",
  "/api/health/live": "liveness probe",
  "/api/health/ready": "readiness probe",
  "/api/v1/events/health": "can events be accepted now (for load balancers and SDKs)",
  "/api/v1/openapi.json": "the API's description, no data",
};

/** Routes whose handler cannot run outside Next (called only through the real server). */
const NOT_CALLABLE_HERE = new Set(["/api/auth/[...nextauth]"]);

const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;
const APP_DIR = path.join(process.cwd(), "app");
const DUMMY_ID = "00000000-0000-4000-8000-000000000000";

function routeFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...routeFiles(full));
    else if (/^route\.(ts|tsx|js|mjs)$/.test(entry.name)) out.push(full);
  }
  return out.sort();
}

/** `/api/v1/users/[userId]/segments` for app/api/v1/users/[userId]/segments/route.ts; route groups dropped. */
function routePattern(file: string): string {
  const segments = path.relative(APP_DIR, path.dirname(file)).split(path.sep).filter((s) => s && !/^\(.*\)$/.test(s));
  return `/${segments.join("/")}`;
}

/** A concrete URL and Next's params for a pattern: every dynamic segment gets a dummy value. */
function concrete(pattern: string): { url: string; params: Record<string, string | string[]> } {
  const params: Record<string, string | string[]> = {};
  const url = pattern
    .split("/")
    .map((segment) => {
      const catchAll = /^\[\[?\.\.\.(\w+)\]\]?$/.exec(segment);
      if (catchAll) {
        params[catchAll[1]!] = ["x"];
        return "x";
      }
      const dynamic = /^\[(\w+)\]$/.exec(segment);
      if (dynamic) {
        params[dynamic[1]!] = DUMMY_ID;
        return DUMMY_ID;
      }
      return segment;
    })
    .join("/");
  return { url: `http://localhost${url}`, params };
}

const files = routeFiles(APP_DIR);

describe.each(engineCases)("every route refuses unauthenticated calls on $name", (engine) => {
  let env: Awaited<ReturnType<typeof openTestRuntime>>;

  beforeAll(async () => {
    env = await openTestRuntime(engine);
    installRuntime(env.rt);
  });
  afterAll(async () => {
    uninstallRuntime();
    await env?.close();
  });

  it("finds the app's route handlers on disk, and every allow-listed route exists", () => {
    expect(files.length).toBeGreaterThan(30);
    const patterns = new Set(files.map(routePattern));
    for (const publicRoute of Object.keys(PUBLIC_ROUTES)) expect(patterns, publicRoute).toContain(publicRoute);
  });

  it.each(files.map((f) => [routePattern(f), f] as const))("%s", async (pattern, file) => {
    if (NOT_CALLABLE_HERE.has(pattern)) return;
    const mod = (await import(/* @vite-ignore */ file)) as Record<string, unknown>;
    const handlers = METHODS.filter((m) => typeof mod[m] === "function");
    expect(handlers.length, `${pattern} exports no HTTP method handler`).toBeGreaterThan(0);
    const { url, params } = concrete(pattern);
    for (const method of handlers) {
      const hasBody = method !== "GET" && method !== "HEAD" && method !== "OPTIONS";
      // A well-formed JSON body: a handler that parsed before authenticating would answer 400, not 401.
      const req = new Request(url, {
        method,
        headers: hasBody ? { "content-type": "application/json" } : {},
        body: hasBody ? "{}" : undefined,
      });
      const res = await (mod[method] as NextRouteHandler)(req, { params: Promise.resolve(params as Record<string, string>) });
      const text = await res.text();
      if (pattern in PUBLIC_ROUTES) {
        expect(res.status, `${method} ${pattern} (public) failed`).toBeLessThan(500);
        continue;
      }
      expect(res.status, `${method} ${pattern} answered ${res.status} without credentials: ${text.slice(0, 200)}`).toBe(401);
      expectSeedError(JSON.parse(text), "UNAUTHORIZED");
    }
  });
});
