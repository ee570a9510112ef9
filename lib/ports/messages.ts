/**
 * Channel providers. Each adapter speaks a real protocol: SMTP (nodemailer), the Web Push
 * protocol with VAPID (web-push), a Twilio-compatible SMS REST API.
 */
import type { ChannelType } from "@/lib/campaigns/campaign";

export interface EmailMessage {
  channel: "email";
  to: string;
  subject: string;
  html: string;
  text: string;
  /** Mailbox or URL for the List-Unsubscribe header. */
  listUnsubscribe?: string;
  /** Sent as a header (e.g. X-Audience-Send-Id) so a provider-side duplicate can be traced. */
  idempotencyKey: string;
}

export interface PushMessage {
  channel: "push";
  /** Web Push subscriptions ({endpoint, keys}) or FCM tokens (strings) of the user. */
  targets: unknown[];
  /** JSON payload delivered to the service worker. */
  payload: { title: string; body: string; data?: Record<string, unknown> };
  idempotencyKey: string;
}

export interface SmsMessage {
  channel: "sms";
  to: string;
  body: string;
  idempotencyKey: string;
}

export type OutboundMessage = EmailMessage | PushMessage | SmsMessage;

export interface SendResult {
  /** The provider's id for the message (SMTP message id, push endpoint response, SMS sid). */
  providerMessageId: string | null;
}

/** A provider failure, with what classifyProviderError needs to decide retry or not. */
export class ProviderError extends Error {
  constructor(
    message: string,
    public readonly status: number | null,
    public readonly code: string | null,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "ProviderError";
  }
}

export interface MessageSender {
  readonly channel: ChannelType;
  /** Sends one message; rejects with ProviderError (or a network error) on failure. */
  send(message: OutboundMessage): Promise<SendResult>;
  close?(): Promise<void>;
}
