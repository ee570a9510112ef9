import { randomUUID } from "node:crypto";
import { segments } from "@/db/schema";
import { engineCases } from "@/test/support/engines";
import { createPgMembershipHistory, createPgMembershipStore } from "./postgres";
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
