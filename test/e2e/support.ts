/**
 * End-to-end harness: the production build served by `npm start` (scripts/start.mjs builds into
 * .next-e2e when the sources changed) on the embedded engines in a temporary DATA_DIR, driven by
 * Debian's Chromium through playwright-core. Screenshots go to test-artifacts/screenshots/.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";

export const ROOT = path.resolve(import.meta.dirname, "../..");
export const SCREENSHOTS = path.join(ROOT, "test-artifacts", "screenshots");
export const ADMIN = { email: "admin@example.com", password: "admin-password-1" };
const ADMIN_KEY = "e2e-admin-key-0123456789abcdef";
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export interface App {
  baseUrl: string;
  adminKey: string;
  dataDir: string;
  /** Server output so far (for failure messages). */
  output(): string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Starts the app as `npm start` does; resolves once it answers over HTTP. */
export async function startApp(opts: { env?: Record<string, string> } = {}): Promise<App> {
  const port = await freePort();
  const dataDir = mkdtempSync(path.join(tmpdir(), "am-e2e-"));
  const baseUrl = `http://127.0.0.1:${port}`;
  let out = "";
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    NEXT_DIST_DIR: ".next-e2e",
    NEXT_SKIP_TYPECHECK: "1",
    NEXT_TELEMETRY_DISABLED: "1",
    PORT: String(port),
    HOST: "127.0.0.1",
    DATA_DIR: dataDir,
    ADMIN_EMAIL: ADMIN.email,
    ADMIN_PASSWORD: ADMIN.password,
    ADMIN_API_KEY: ADMIN_KEY,
    LOG_LEVEL: "warn",
    ...opts.env,
  };
  // The embedded engines, whatever the calling shell points at.
  for (const k of ["DATABASE_URL", "KAFKA_BROKERS", "AEROSPIKE_HOSTS"]) if (!opts.env?.[k]) delete env[k];
  const child: ChildProcess = spawn(process.execPath, [path.join(ROOT, "scripts", "start.mjs")], { cwd: ROOT, env: env as NodeJS.ProcessEnv, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const deadline = Date.now() + 600_000; // includes a production build when the sources changed
  for (;;) {
    if (child.exitCode !== null) throw new Error(`app exited with ${child.exitCode}:\n${out.slice(-4000)}`);
    try {
      const res = await fetch(`${baseUrl}/api/v1/events/health`);
      if (res.status < 500) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`app did not answer in time:\n${out.slice(-4000)}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  return {
    baseUrl,
    adminKey: ADMIN_KEY,
    dataDir,
    output: () => out,
    async stop() {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface BrowserSession {
  browser: Browser;
  context: BrowserContext;
  page: Page;
}

/** Debian's Chromium, headless; never a downloaded browser. */
export async function openBrowser(viewport = { width: 1280, height: 900 }): Promise<BrowserSession> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
  const context = await browser.newContext({ viewport, locale: "en-US", timezoneId: "UTC" });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  return { browser, context, page };
}

export async function signIn(page: Page, baseUrl: string, email = ADMIN.email, password = ADMIN.password): Promise<void> {
  await page.goto(`${baseUrl}/login`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL((url) => !url.pathname.startsWith("/login"), { timeout: 20_000 });
}

/** Calls the REST API with the admin key; throws with the answer on a non-2xx status. */
export async function api<T = unknown>(app: App, method: string, pathname: string, body?: unknown): Promise<T> {
  const res = await fetch(`${app.baseUrl}${pathname}`, {
    method,
    headers: { authorization: `Bearer ${app.adminKey}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${pathname} → ${res.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

/** Invites a person through the admin API; they sign in with the one-time password returned. */
export async function createUser(app: App, user: { email: string; name?: string; role: "viewer" | "marketer" | "admin" }) {
  const r = await api<{ temporaryPassword: string }>(app, "POST", "/api/v1/admin/users", { email: user.email, name: user.name ?? user.email.split("@")[0], role: user.role });
  return { email: user.email, password: r.temporaryPassword };
}

/** A full-page screenshot saved as a test artifact. */
export async function shot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
