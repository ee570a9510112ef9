import type { ChannelType } from "@/lib/campaigns/campaign";
import { configuredChannels, type Env } from "@/lib/env";
import type { MessageSender } from "@/lib/ports/messages";
import { createSmsSender } from "@/lib/adapters/channels/sms";
import { createSmtpSender } from "@/lib/adapters/channels/smtp";
import { createWebPushSender } from "@/lib/adapters/channels/web-push";

export { createSmsSender, type SmsSenderOptions } from "@/lib/adapters/channels/sms";
export { createSmtpSender, type SmtpSenderOptions } from "@/lib/adapters/channels/smtp";
export { createWebPushSender, type WebPushSenderOptions, type WebPushSendResult } from "@/lib/adapters/channels/web-push";

/**
 * A sender for each channel whose provider variables are all set: the same test as
 * configuredChannels(), so a channel a campaign may be activated on always has a sender.
 * A bad value (VAPID keys, URLs) throws here, at boot.
 */
export function createMessageSenders(env: Env): Map<ChannelType, MessageSender> {
  const channels = configuredChannels(env);
  const senders = new Map<ChannelType, MessageSender>();
  try {
    if (channels.has("email")) {
      senders.set("email", createSmtpSender({ url: env.SMTP_URL!, from: env.SMTP_FROM! }));
    }
    if (channels.has("push")) {
      senders.set(
        "push",
        createWebPushSender({ publicKey: env.VAPID_PUBLIC_KEY!, privateKey: env.VAPID_PRIVATE_KEY!, subject: env.VAPID_SUBJECT! }),
      );
    }
    if (channels.has("sms")) {
      senders.set(
        "sms",
        createSmsSender({ baseUrl: env.SMS_BASE_URL!, accountSid: env.SMS_ACCOUNT_SID!, authToken: env.SMS_AUTH_TOKEN!, from: env.SMS_FROM! }),
      );
    }
  } catch (error) {
    void closeMessageSenders(senders);
    throw error;
  }
  return senders;
}

/** Closes every sender that holds resources (the SMTP pool); one failing does not stop the rest. */
export async function closeMessageSenders(senders: ReadonlyMap<ChannelType, MessageSender>): Promise<void> {
  await Promise.allSettled([...senders.values()].map((s) => s.close?.()));
}
