import { describe, expect, it } from "vitest";
import { personalDataIssues } from "./pii";
import { validateEvents } from "./schema";

const NOW = Date.UTC(2026, 10, 24, 12);
const ev = (extra: Record<string, unknown> = {}) => ({ userId: "u-1", eventType: "orders", timestamp: NOW, attributes: {}, ...extra });

describe("personalDataIssues", () => {
  it("accepts ordinary behavioural attributes", () => {
    expect(
      personalDataIssues({
        userId: "8f14e45f-ceea-467f-a9f5-0d2c1e3b4a5c",
        sessionId: "s-77",
        deviceId: "ios-abc",
        attributes: { value: 42.5, sku: "A-100", currency: "EUR", url: "https://shop.example/x?id=1", items: [{ qty: 2 }], delta: "+12", emailOptIn: true },
      }),
    ).toEqual([]);
  });

  it("finds contact points by key and by value, at any depth", () => {
    const issues = personalDataIssues({
      userId: "ada@example.com",
      deviceId: "+49 151 1234 5678",
      attributes: { Email: "x", "phone_number": 1234567, customer: { contact: "bob@example.org" }, list: ["+4915112345678"], e_mail: "", push_token: null },
    });
    expect(issues.map((i) => i.path.join("."))).toEqual([
      "userId",
      "deviceId",
      "attributes.Email",
      "attributes.phone_number",
      "attributes.customer.contact",
      "attributes.list.0",
    ]);
    expect(issues[0]!.reason).toMatch(/looks like an email address/);
    expect(issues[1]!.reason).toMatch(/looks like a phone number/);
    expect(issues[2]!.reason).toMatch(/names a contact point/);
  });

  it("is applied by the ingestion validation, at the event's path", () => {
    const r = validateEvents([ev(), ev({ attributes: { email: "ada@example.com" } })], NOW);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.issues).toEqual([{ field: "events[1].attributes.email", reason: expect.stringMatching(/personal data/) }]);
    expect(validateEvents([ev({ attributes: { value: 3 } })], NOW).ok).toBe(true);
  });
});
