#!/usr/bin/env node
// npm start: builds the Next app when the sources changed since the last build, then serves
// the whole platform (UI, REST API and, without servers configured, the embedded engines).
// `node scripts/start.mjs --build-only` only builds (when needed) into NEXT_DIST_DIR (.next).
import { spawnSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const SOURCES = ["app", "components", "lib", "db", "public", "next.config.mjs", "postcss.config.mjs", "package-lock.json", "tsconfig.json"];

function fingerprint() {
  const hash = createHash("sha256");
  const walk = (p) => {
    if (!existsSync(p)) return;
    const st = statSync(p);
    if (st.isDirectory()) {
      for (const name of readdirSync(p).sort()) if (name !== "node_modules") walk(path.join(p, name));
    } else if (!/\.test\.tsx?$/.test(p)) {
      hash.update(`${path.relative(root, p)}:${st.size}:${st.mtimeMs}\n`);
    }
  };
  for (const s of SOURCES) walk(path.join(root, s));
  return hash.digest("hex");
}

const distDir = path.join(root, process.env.NEXT_DIST_DIR || ".next");
const stampFile = path.join(distDir, "audience-manager.stamp");
const current = fingerprint();
const built = existsSync(path.join(distDir, "BUILD_ID")) && existsSync(stampFile) && readFileSync(stampFile, "utf8") === current;
const env = { ...process.env, NEXT_TELEMETRY_DISABLED: "1", NODE_ENV: "production" };

if (!built) {
  console.error("Building the web app (first start or sources changed)…");
  const r = spawnSync(process.execPath, [path.join(root, "node_modules", "next", "dist", "bin", "next"), "build"], {
    cwd: root,
    env,
    stdio: "inherit",
  });
  if (r.status !== 0) process.exit(r.status ?? 1);
  writeFileSync(stampFile, current);
}

// `--build-only`: just make sure the build is current (pm2 and the fault tests start server.ts themselves).
if (process.argv.includes("--build-only")) process.exit(0);

const child = spawn(process.execPath, ["--import", "tsx", path.join(root, "server.ts")], { cwd: root, env, stdio: "inherit" });
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => child.kill(sig));
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
