/**
 * The client address the web process rate-limits by. server.ts computes it from the socket and,
 * behind `hops` trusted proxies, from X-Forwarded-For, and hands it to the route handlers in
 * CLIENT_IP_HEADER — always overwriting what the client sent, so it cannot be spoofed.
 */
export const CLIENT_IP_HEADER = "x-am-client-ip";

/**
 * With `hops` trusted proxies, the address `hops` entries from the right of X-Forwarded-For
 * (what the outermost trusted proxy saw); else the socket's peer. IPv4-mapped IPv6 addresses
 * are shown as IPv4.
 */
export function clientIp(socketAddress: string | undefined, forwardedFor: string | string[] | undefined, hops: number): string {
  let ip = socketAddress ?? "";
  if (hops > 0 && forwardedFor) {
    const chain = (Array.isArray(forwardedFor) ? forwardedFor.join(",") : forwardedFor)
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
    // The socket peer is the nearest proxy; each further trusted hop appended one entry.
    // Fewer entries than hops: the first proxy's view of the client is the leftmost.
    const candidate = chain[Math.max(0, chain.length - hops)];
    if (candidate && /^[0-9A-Fa-f.:]{2,45}$/.test(candidate)) ip = candidate;
  }
  if (ip.startsWith("::ffff:") && ip.includes(".")) ip = ip.slice(7);
  return ip || "unknown";
}
