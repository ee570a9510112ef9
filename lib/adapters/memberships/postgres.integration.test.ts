import { randomUUID } from "node:crypto";
import { segments } from "@/db/schema";
import { engineCases } from "@/test/support/engines";
import { createPgMembershipHistory, createPgMembershipStore, createPgTransitionWriter } from "./postgres";
import { membershipHistoryContract, membershipStoreContract } from "./contract";

for (const engine of engineCases.map((e) => ({ name: e.name.replace(/ \+.*\)/, ")"), openDb: e.openDb }))) {
  const fixture = async () => {
    const db = await engine.openDb();
    const segmentIds = [randomUUID(), randomUUID()];
    await db.db.insert(segments).values(
      segmentIds.map((id, i) => ({
        id,
        name: `contract ${id}`,
        type: "INDEPENDENT" as const,
        createdBy: "test",
        updatedBy: "test",
        version: 1 + i,
      })),
    );
    return { db, segmentIds, cleanup: () => db.drop() };
  };
  membershipStoreContract(engine.name, async () => {
    const { db, segmentIds, cleanup } = await fixture();
    return { store: createPgMembershipStore(db.db), segmentIds, cleanup };
  });
  membershipHistoryContract(engine.name, async () => {
    const { db, segmentIds, cleanup } = await fixture();
    return { history: createPgMembershipHistory(db.db), segmentIds, cleanup };
  });
}

// The processor's one-statement writer must give exactly what apply + record give: run both
// contracts with apply / record replaced by it.
for (const engine of engineCases.map((e) => ({ name: e.name.replace(/ \+.*\)/, ")"), openDb: e.openDb }))) {
  const fixture = async () => {
    const db = await engine.openDb();
    const segmentIds = [randomUUID(), randomUUID()];
    await db.db.insert(segments).values(
      segmentIds.map((id, i) => ({ id, name: `writer ${id}`, type: "INDEPENDENT" as const, createdBy: "test", updatedBy: "test", version: 1 + i })),
    );
    return { db, segmentIds, cleanup: () => db.drop() };
  };
  membershipStoreContract(`${engine.name}, one-statement transition writer`, async () => {
    const { db, segmentIds, cleanup } = await fixture();
    const writer = createPgTransitionWriter(db.db);
    return { store: { ...createPgMembershipStore(db.db), apply: (c) => writer.write(c) }, segmentIds, cleanup };
  });
  membershipHistoryContract(`${engine.name}, one-statement transition writer`, async () => {
    const { db, segmentIds, cleanup } = await fixture();
    const writer = createPgTransitionWriter(db.db);
    return { history: { ...createPgMembershipHistory(db.db), record: (c) => writer.write(c) }, segmentIds, cleanup };
  });
}
