import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { openSecret, sealSecret, SecretUnavailableError } from "./secret";
import { buildPayload, createWebhookSchema, signatureHeader, updateWebhookSchema, verifySignature, webhookRetryDelayMs } from "./webhook";

const NOW = new Date(Date.UTC(2026, 10, 24, 12, 0, 0));

describe("webhook signature", () => {
  const body = buildPayload("0b3c8a4e-8a43-4f7b-9b0c-1f8f4a0c2d11", { id: "u|s|enter|1", userId: "u", segmentId: "s", kind: "enter", at: NOW.getTime(), cause: "event", version: 2 }, "VIPs", NOW);

  it("is t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t.body)>", () => {
    const header = signatureHeader("whsec_test_secret_123", body, NOW);
    const t = Math.floor(NOW.getTime() / 1000);
    expect(header).toBe(`t=${t},v1=${createHmac("sha256", "whsec_test_secret_123").update(`${t}.${body}`).digest("hex")}`);
  });

  it("verifies the right secret and body, and refuses a changed body, another secret or an old timestamp", () => {
    const header = signatureHeader("whsec_test_secret_123", body, NOW);
    expect(verifySignature("whsec_test_secret_123", body, header, NOW)).toEqual({ ok: true });
    expect(verifySignature("whsec_test_secret_123", body.replace("VIPs", "VIPS"), header, NOW).ok).toBe(false);
    expect(verifySignature("another_secret_0000", body, header, NOW).ok).toBe(false);
    expect(verifySignature("whsec_test_secret_123", body, header, new Date(NOW.getTime() + 301_000))).toEqual({ ok: false, reason: "timestamp outside the tolerance" });
    expect(verifySignature("whsec_test_secret_123", body, null, NOW).ok).toBe(false);
  });

  it("the payload names the transition and carries the delivery id", () => {
    expect(JSON.parse(body)).toEqual({
      id: "0b3c8a4e-8a43-4f7b-9b0c-1f8f4a0c2d11",
      type: "segment.entered",
      createdAt: NOW.toISOString(),
      data: { userId: "u", segmentId: "s", segmentName: "VIPs", transition: "enter", at: NOW.toISOString(), cause: "event", definitionVersion: 2, transitionId: "u|s|enter|1" },
    });
  });
});

describe("webhook retry delay", () => {
  const policy = { baseDelayMs: 1000, maxDelayMs: 60_000 };
  it("grows exponentially with jitter in [½, 1] of the ceiling, capped", () => {
    expect(webhookRetryDelayMs(1, policy, () => 0)).toBe(500);
    expect(webhookRetryDelayMs(1, policy, () => 1)).toBe(1000);
    expect(webhookRetryDelayMs(3, policy, () => 0)).toBe(2000);
    expect(webhookRetryDelayMs(3, policy, () => 0.5)).toBe(3000);
    expect(webhookRetryDelayMs(30, policy, () => 1)).toBe(60_000);
  });
});

describe("webhook secrets at rest", () => {
  it("are encrypted with WEBHOOK_SECRET_KEY, and open only with it", () => {
    const key = "k".repeat(40);
    const sealed = sealSecret("whsec_abc", key);
    expect(sealed).toMatch(/^enc:v1:/);
    expect(sealed).not.toContain("whsec_abc");
    expect(openSecret(sealed, key)).toBe("whsec_abc");
    expect(() => openSecret(sealed, "x".repeat(40))).toThrow(SecretUnavailableError);
    expect(() => openSecret(sealed, undefined)).toThrow(SecretUnavailableError);
  });

  it("are stored plain without a key (and still never returned)", () => {
    expect(openSecret(sealSecret("whsec_abc", undefined), "k".repeat(40))).toBe("whsec_abc");
  });
});

describe("webhook subscription input", () => {
  it("accepts http(s) URLs without credentials and defaults to both events", () => {
    expect(createWebhookSchema.parse({ url: "https://example.com/hook" })).toMatchObject({ events: ["enter", "exit"], segmentId: null, enabled: true });
    expect(createWebhookSchema.safeParse({ url: "ftp://example.com" }).success).toBe(false);
    expect(createWebhookSchema.safeParse({ url: "https://user:pw@example.com" }).success).toBe(false);
    expect(createWebhookSchema.safeParse({ url: "https://example.com", events: [] }).success).toBe(false);
    expect(createWebhookSchema.safeParse({ url: "https://example.com", secret: "short" }).success).toBe(false);
  });

  it("a patch must change something", () => {
    expect(updateWebhookSchema.safeParse({}).success).toBe(false);
    expect(updateWebhookSchema.parse({ enabled: true })).toEqual({ enabled: true });
  });
});
