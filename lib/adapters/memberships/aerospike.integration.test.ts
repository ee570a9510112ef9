import { randomUUID } from "node:crypto";
import { describe, it } from "vitest";
import { createAerospikeMembershipStore, hostsFromEnv } from "./aerospike";
import { membershipStoreContract } from "./contract";

// The Aerospike adapter against a real cluster: AEROSPIKE_HOSTS=host:port,… (and optionally
// AEROSPIKE_NAMESPACE, default "audience"; the namespace must exist in the server config). Uses
// its own set, so its map-keys index and records stay apart from the default "memberships" set.
const hosts = hostsFromEnv(process.env.AEROSPIKE_HOSTS);

if (hosts.length > 0) {
  membershipStoreContract("Aerospike", async () => {
    const store = await createAerospikeMembershipStore({
      hosts,
      namespace: process.env.AEROSPIKE_NAMESPACE || undefined,
      set: "memberships_contract",
    });
    // No foreign keys: fresh segment ids keep runs apart (user ids are random in the contract).
    return { store, segmentIds: [randomUUID(), randomUUID()], cleanup: () => store.close() };
  });
} else {
  describe.skip("MembershipStore contract: Aerospike (needs AEROSPIKE_HOSTS; no Aerospike server on these machines)", () => {
    it("runs the contract suite against the cluster in AEROSPIKE_HOSTS", () => {});
  });
}
