import type { Agent } from "node:https";
import webpush from "web-push";
import { type MessageSender, type OutboundMessage, ProviderError, type SendResult } from "@/lib/ports/messages";
import { classifyProviderError } from "@/lib/campaigns/policy";
import { errorMessage, expectChannel, networkCode } from "@/lib/adapters/channels/shared";

export interface WebPushSenderOptions {
  /** VAPID key pair (base64url, as webpush.generateVAPIDKeys() makes them) and contact. */
  publicKey: string;
  privateKey: string;
  /** mailto:… or https://… : who the push service may contact about this sender. */
  subject: string;
  /** Socket inactivity timeout per request (default 10 s). */
  timeoutMs?: number;
  /** How long the push service keeps an undelivered message, in seconds (default 24 h). */
  ttlSeconds?: number;
  /** An https.Agent for the requests (a proxy, keep-alive, or a test's CA). */
  agent?: Agent;
}

/** A Web Push subscription as the browser's PushSubscription.toJSON() gives it. */
export interface WebPushSubscription {
  endpoint: string;
  keys: { p256dh: string; auth: string };
}

export interface WebPushSendResult extends SendResult {
  /** Subscriptions the push service accepted (2xx). */
  accepted: number;
  /** Targets this adapter cannot send to: FCM registration tokens (strings) and malformed objects. */
  skipped: number;
  /** Endpoints the push service called gone (404/410): the caller may delete them. */
  goneEndpoints: string[];
  /** The failures of the other subscriptions, when at least one was accepted. */
  failures: ProviderError[];
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_TTL_SECONDS = 24 * 60 * 60;
/**
 * The largest JSON payload whose encrypted body stays within the 4096 bytes every push service
 * must accept (RFC 8291 §4): 4096 − 86 (aes128gcm header) − 16 (tag) − 1 (padding delimiter).
 * A service may refuse a bigger body with 413.
 */
export const MAX_PAYLOAD_BYTES = 3993;

const BASE64URL = /^[A-Za-z0-9_-]+={0,2}$/;

/** The target as a subscription we can encrypt for, or null (FCM token string, junk). */
export function asWebPushSubscription(target: unknown): WebPushSubscription | null {
  if (!target || typeof target !== "object") return null;
  const { endpoint, keys } = target as { endpoint?: unknown; keys?: { p256dh?: unknown; auth?: unknown } | null };
  if (typeof endpoint !== "string" || !keys || typeof keys !== "object") return null;
  const { p256dh, auth } = keys;
  if (typeof p256dh !== "string" || typeof auth !== "string" || !BASE64URL.test(p256dh) || !BASE64URL.test(auth)) return null;
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return null;
  }
  if (url.protocol !== "https:") return null;
  const key = Buffer.from(p256dh, "base64url");
  // An uncompressed P-256 point (RFC 8291: 65 bytes, 0x04 first) and a 16-byte auth secret.
  if (key.length !== 65 || key[0] !== 0x04 || Buffer.from(auth, "base64url").length < 16) return null;
  return { endpoint, keys: { p256dh, auth } };
}

/** A ProviderError for one subscription's failure: the push service's status, or a network code. */
export function webPushProviderError(error: unknown): ProviderError {
  if (error instanceof webpush.WebPushError) {
    const body = typeof error.body === "string" && error.body.trim() ? `: ${error.body.trim().slice(0, 200)}` : "";
    return new ProviderError(`push service answered ${error.statusCode}${body}`, error.statusCode, null, { cause: error });
  }
  // web-push destroys a request that stalls with "Socket timeout" and no code.
  const code = networkCode(error) ?? (/timeout/i.test(errorMessage(error)) ? "ETIMEDOUT" : null);
  return new ProviderError(`web push failed: ${errorMessage(error)}`, null, code, { cause: error });
}

/**
 * The push channel over the Web Push protocol (RFC 8030) with VAPID (RFC 8292) and aes128gcm
 * payload encryption (RFC 8291), via the `web-push` package. Each subscription of the user
 * gets the JSON payload; the send succeeds when at least one accepts it.
 *
 * Failure, when none accepted: no sendable subscription → 400 (permanent); otherwise a
 * transient failure if any (429, 5xx, network: a retry may reach that one), else the first
 * permanent one (404/410: the subscription is gone).
 *
 * Endpoints are URLs the browser chose; this adapter only requires https. A deployment that
 * wants to limit them to known push services should filter the targets before sending.
 */
export function createWebPushSender(options: WebPushSenderOptions): MessageSender {
  const vapidDetails = { subject: options.subject, publicKey: options.publicKey, privateKey: options.privateKey };
  // Validates the keys and the subject now, at boot, rather than on the first send.
  webpush.getVapidHeaders("https://push.invalid", vapidDetails.subject, vapidDetails.publicKey, vapidDetails.privateKey, "aes128gcm");
  const timeout = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const TTL = options.ttlSeconds ?? DEFAULT_TTL_SECONDS;

  return {
    channel: "push",

    async send(message: OutboundMessage): Promise<WebPushSendResult> {
      expectChannel(message, "push");
      const subscriptions = message.targets.map(asWebPushSubscription).filter((s): s is WebPushSubscription => s !== null);
      const skipped = message.targets.length - subscriptions.length;
      if (subscriptions.length === 0) {
        throw new ProviderError(
          `no web push subscription among ${message.targets.length} target(s) (FCM tokens are not supported by this adapter)`,
          400,
          "NO_SUBSCRIPTION",
        );
      }
      const payload = JSON.stringify(message.payload);
      if (Buffer.byteLength(payload) > MAX_PAYLOAD_BYTES) {
        throw new ProviderError(`push payload is ${Buffer.byteLength(payload)} bytes, more than ${MAX_PAYLOAD_BYTES}`, 413, "PAYLOAD_TOO_LARGE");
      }

      const outcomes = await Promise.allSettled(
        subscriptions.map((sub) =>
          webpush.sendNotification(sub, payload, { vapidDetails, TTL, timeout, ...(options.agent ? { agent: options.agent } : {}) }),
        ),
      );

      let providerMessageId: string | null = null;
      let accepted = 0;
      const goneEndpoints: string[] = [];
      const failures: ProviderError[] = [];
      outcomes.forEach((outcome, i) => {
        if (outcome.status === "fulfilled") {
          if (accepted === 0) {
            const location = outcome.value.headers?.location;
            providerMessageId = (Array.isArray(location) ? location[0] : location) ?? null;
          }
          accepted++;
          return;
        }
        const failure = webPushProviderError(outcome.reason);
        if (failure.status === 404 || failure.status === 410) goneEndpoints.push(subscriptions[i]!.endpoint);
        failures.push(failure);
      });

      if (accepted === 0) {
        throw failures.find((f) => classifyProviderError(f) === "transient") ?? failures[0]!;
      }
      return { providerMessageId, accepted, skipped, goneEndpoints, failures };
    },
  };
}
