/** A campaign-dispatcher process for the SIGKILL test: the real worker wiring. Prints READY. */
import { parseEnv } from "@/lib/env";
import { createRuntime } from "@/lib/runtime";

const env = parseEnv();
const rt = await createRuntime(env, {
  workers: true,
  only: "dispatcher",
  dispatcher: { groupId: process.env.TEST_DISPATCHER_GROUP, fromBeginning: false, pollMs: 100 },
});
process.stdout.write("READY\n");
process.on("SIGTERM", () => void rt.close().then(() => process.exit(0)));
