/**
 * `npm run privacy:rewrap`: re-encrypts every profile's personal data under the current PII key
 * (the first of PII_KEYS), after a key rotation; prints the counts as JSON. The same as
 * POST /api/v1/admin/privacy/rewrap. Embedded mode (PGlite): PGlite belongs to one process, so
 * stop the server first, or call the endpoint instead. See docs/privacy.md.
 */
import { parseEnvOrExit } from "@/lib/process";
import { createRuntime } from "@/lib/runtime";
import { rewrapPersonalData } from "@/lib/services/privacy";

async function main() {
  const env = parseEnvOrExit();
  const rt = await createRuntime(env, { workers: false, retention: false });
  try {
    const result = await rewrapPersonalData(rt.privacyDeps, { actor: "cli:privacy-rewrap", traceId: `cli-${Date.now()}`, now: rt.clock.now() });
    console.log(JSON.stringify(result));
    if (result.unreadable > 0) process.exitCode = 2;
  } finally {
    await rt.close();
  }
}

main().catch((error: unknown) => {
  console.error("rewrap failed:", error);
  process.exit(1);
});
