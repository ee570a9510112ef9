import { appendFile, mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

import { afterEach, describe, expect, it } from "vitest";

import { Collector, eventLogContract, uniqueName, waitFor } from "@/lib/adapters/event-log/contract";
import { LocalEventLog, type LocalEventLogOptions } from "@/lib/adapters/event-log/local-log";
import type { EventLog } from "@/lib/ports/event-log";

/** Handler failures are injected on purpose; keep them out of the test output. */
const quiet: Pick<LocalEventLogOptions, "onError" | "retryDelayMs"> = { onError: () => undefined, retryDelayMs: 20 };

eventLogContract("local log", async () => {
  const dir = await mkdtemp(path.join(tmpdir(), "am-local-log-"));
  const opened: EventLog[] = [];
  const open = () => {
    const log = new LocalEventLog({ dir, ...quiet });
    opened.push(log);
    return log;
  };
  return {
    log: open(),
    reopen: async () => open(),
    cleanup: async () => {
      for (const log of opened) await log.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

describe("LocalEventLog", () => {
  const dirs: string[] = [];
  const logs: LocalEventLog[] = [];

  async function freshDir(): Promise<string> {
    const dir = await mkdtemp(path.join(tmpdir(), "am-local-log-"));
    dirs.push(dir);
    return dir;
  }

  function openLog(dir: string): LocalEventLog {
    const log = new LocalEventLog({ dir, ...quiet });
    logs.push(log);
    return log;
  }

  afterEach(async () => {
    for (const log of logs.splice(0)) await log.close();
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  });

  async function readAll(log: EventLog, topic: string, expected: number): Promise<Collector> {
    const collector = new Collector();
    const subscription = await log.subscribe({ groupId: uniqueName("g"), topics: [topic], handleBatch: collector.handleBatch });
    await waitFor(() => collector.messages.length >= expected, `${expected} messages`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await subscription.close();
    return collector;
  }

  async function partitionFile(dir: string, topic: string): Promise<string> {
    return path.join(dir, "topics", topic, "0.log");
  }

  it.each([
    ["a record cut short", async (file: string) => {
      // A header promising 100 bytes followed by only 10 of them.
      const header = Buffer.alloc(8);
      header.writeUInt32BE(100, 0);
      header.writeUInt32BE(12345, 4);
      await appendFile(file, Buffer.concat([header, Buffer.alloc(10, 0x41)]));
    }, 10],
    ["half a header", async (file: string) => appendFile(file, Buffer.from([0, 0, 0])), 10],
    ["zeros a file system left after a crash", async (file: string) => appendFile(file, Buffer.alloc(64)), 10],
    ["a last record whose checksum does not match", async (file: string) => {
      const bytes = await readFile(file);
      bytes[bytes.length - 2] = bytes.at(-2)! ^ 0xff;
      await writeFile(file, bytes);
    }, 9],
  ])("recovers from a torn tail (%s) by truncating it", async (_name, tear, survivors) => {
    const dir = await freshDir();
    const topic = uniqueName("torn");
    const log = openLog(dir);
    await log.ensureTopics([{ name: topic, partitions: 1 }]);
    await log.append(topic, Array.from({ length: 10 }, (_, i) => ({ key: "k", value: `v${i}` })));
    await log.close();
    const file = await partitionFile(dir, topic);
    const goodSize = (await stat(file)).size;
    await tear(file);

    const reopened = openLog(dir);
    const before = await readAll(reopened, topic, survivors);
    expect(before.values()).toEqual(Array.from({ length: survivors }, (_, i) => `v${i}`));
    expect((await stat(file)).size).toBeLessThanOrEqual(goodSize);

    await reopened.append(topic, [{ key: "k", value: "after" }]);
    const after = await readAll(reopened, topic, survivors + 1);
    expect(after.values().at(-1)).toBe("after");
    expect(after.messages.at(-1)!.offset).toBe(String(survivors));
  });

  it("keeps call order and contiguous offsets under concurrent appends to one partition", async () => {
    const log = openLog(await freshDir());
    const topic = uniqueName("concurrent");
    await log.ensureTopics([{ name: topic, partitions: 4 }]);
    await Promise.all(Array.from({ length: 200 }, (_, i) => log.append(topic, [{ key: "same", value: String(i) }])));
    const collector = await readAll(log, topic, 200);
    expect(collector.values()).toEqual(Array.from({ length: 200 }, (_, i) => String(i)));
    expect(collector.messages.map((m) => m.offset)).toEqual(Array.from({ length: 200 }, (_, i) => String(i)));
  });

  it("refuses a second subscription in an active group, and allows it after close", async () => {
    const log = openLog(await freshDir());
    const topic = uniqueName("group");
    await log.ensureTopics([{ name: topic, partitions: 1 }]);
    const options = { groupId: "g", topics: [topic], handleBatch: async () => undefined };
    const first = await log.subscribe(options);
    await expect(log.subscribe(options)).rejects.toThrow(/already has a subscription/);
    await first.close();
    const second = await log.subscribe(options);
    await second.close();
  });

  it("refuses a second open of the same directory while the first is open", async () => {
    const dir = await freshDir();
    const first = openLog(dir);
    await first.open();
    await expect(openLog(dir).open()).rejects.toThrow(/already open/);
    await first.close();
    await openLog(dir).open();
  });

  it("takes over a lock left by a dead process, even one whose pid is now reused", async () => {
    const dir = await freshDir();
    const first = openLog(dir);
    await first.open();
    await first.close();
    // As after a container restart: same pid, but a different process start time.
    await writeFile(path.join(dir, "LOCK"), JSON.stringify({ pid: process.pid, start: "1" }));
    await openLog(dir).open();
  });

  it("rejects appends to a topic that was never ensured", async () => {
    const log = openLog(await freshDir());
    await expect(log.append("missing", [{ key: "k", value: "v" }])).rejects.toThrow(/unknown topic/);
  });

  it("persists committed offsets per group as files that survive reopen", async () => {
    const dir = await freshDir();
    const topic = uniqueName("groups");
    const log = openLog(dir);
    await log.ensureTopics([{ name: topic, partitions: 1 }]);
    await log.append(topic, [{ key: "k", value: "v" }]);
    await readAll(log, topic, 1);
    await log.close();
    const files = await readdir(path.join(dir, "groups"));
    expect(files.filter((f) => f.endsWith(".json"))).toHaveLength(1);
    expect(files.filter((f) => f.endsWith(".tmp"))).toHaveLength(0);
  });
});
