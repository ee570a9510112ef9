import webpush from "web-push";
import { describe, expect, it } from "vitest";
import { configuredChannels, parseEnv } from "@/lib/env";
import { closeMessageSenders, createMessageSenders } from "@/lib/adapters/channels";

const vapid = webpush.generateVAPIDKeys();
const email = { SMTP_URL: "smtp://127.0.0.1:2525", SMTP_FROM: "news@acme.test" };
const push = { VAPID_PUBLIC_KEY: vapid.publicKey, VAPID_PRIVATE_KEY: vapid.privateKey, VAPID_SUBJECT: "mailto:ops@acme.test" };
const sms = { SMS_BASE_URL: "http://127.0.0.1:9", SMS_ACCOUNT_SID: "AC1", SMS_AUTH_TOKEN: "t", SMS_FROM: "+15005550000" };

describe("createMessageSenders", () => {
  it.each([
    ["nothing", {}, []],
    ["email only", email, ["email"]],
    ["push only", push, ["push"]],
    ["sms only", sms, ["sms"]],
    ["all three", { ...email, ...push, ...sms }, ["email", "push", "sms"]],
    ["email without From, sms without token", { SMTP_URL: email.SMTP_URL, ...sms, SMS_AUTH_TOKEN: " " }, []],
    ["push without subject", { ...push, VAPID_SUBJECT: "" }, []],
  ])("%s", async (_name, vars, expected) => {
    const env = parseEnv(vars as Record<string, string>);
    const senders = createMessageSenders(env);
    try {
      expect([...senders.keys()].sort()).toEqual(expected);
      expect([...senders.keys()].sort()).toEqual([...configuredChannels(env)].sort());
      for (const [channel, sender] of senders) expect(sender.channel).toBe(channel);
    } finally {
      await closeMessageSenders(senders);
    }
  });

  it("fails at boot on VAPID keys that are set but unusable", () => {
    expect(() => createMessageSenders(parseEnv({ ...email, ...push, VAPID_PUBLIC_KEY: "not-a-key" }))).toThrow(/public key/i);
  });
});
