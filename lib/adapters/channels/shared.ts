import { errorCode } from "@/lib/errors";
import type { ChannelType } from "@/lib/campaigns/campaign";
import type { OutboundMessage } from "@/lib/ports/messages";

/**
 * A message handed to the wrong channel's sender is a wiring bug, not a provider failure: it
 * throws a TypeError (never a ProviderError) so it is not mistaken for something to retry.
 */
export function expectChannel<C extends ChannelType>(
  message: OutboundMessage,
  channel: C,
): asserts message is Extract<OutboundMessage, { channel: C }> {
  if (message?.channel !== channel) {
    throw new TypeError(`the ${channel} sender got a message for channel ${JSON.stringify(message?.channel)}`);
  }
}

/** A code on an error or on one of its causes (fetch and nodemailer wrap the socket's error). */
export function networkCode(error: unknown): string | null {
  return errorCode(error, (code) => /^E[A-Z_]+$/.test(code)) ?? null;
}

export const errorMessage = (error: unknown) => (error instanceof Error ? error.message : String(error));
