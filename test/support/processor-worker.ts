/**
 * A segment-processor process for the SIGKILL test: the real worker wiring, with the consumer
 * group and checkpoint interval the test chooses. Prints READY once consuming.
 */
import { parseEnv } from "@/lib/env";
import { createRuntime } from "@/lib/runtime";

const env = parseEnv();
const rt = await createRuntime(env, {
  workers: true,
  only: "processor",
  processor: {
    groupId: process.env.TEST_PROCESSOR_GROUP,
    fromBeginning: false,
    checkpointIntervalMs: Number(process.env.TEST_CHECKPOINT_MS ?? 200),
  },
});
process.stdout.write("READY\n");
const stop = async () => {
  await rt.close();
  process.exit(0);
};
process.on("SIGTERM", () => void stop());
