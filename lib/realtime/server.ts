/**
 * The realtime WebSocket endpoints on the web process's HTTP server (docs/realtime.md):
 *   /ws/segments/{segmentId}/realtime   /ws/users/{userId}/segments
 * Wiring: authenticates the upgrade, opens a channel (./channels) per socket, feeds the hub from
 * `segment-memberships` (./feed). Paths outside /ws/ are left alone (Next's dev server answers
 * its own HMR upgrades on the same server).
 */
import type { IncomingMessage, Server } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer, type WebSocket } from "ws";
import { AppError } from "@/lib/errors";
import type { Actor } from "@/lib/ports/auth";
import type { Subscription } from "@/lib/ports/event-log";
import { authenticate, requireScope } from "@/lib/services/auth";
import { getSegment } from "@/lib/services/segments";
import { userSegments } from "@/lib/services/users";
import { roleScopes } from "@/lib/auth/roles";
import { sessionTokenFromCookieHeader, sessionUserFromToken } from "@/lib/auth/token";
import { instanceId, type Runtime } from "@/lib/runtime";
import { RealtimeChannels, type ChannelTimings, type SegmentFigures, type Sink } from "./channels";
import { startMembershipFeed } from "./feed";
import { RealtimeHub } from "./hub";

export interface RealtimeServer {
  hub: RealtimeHub;
  channels: RealtimeChannels;
  /** Closes every socket (1001), stops the feed and detaches from the HTTP server. Idempotent. */
  close(): Promise<void>;
}

export interface RealtimeOptions {
  /** Consumer group of this process's feed (default: realtime-<instance id>). */
  groupId?: string;
  timings?: Partial<ChannelTimings>;
  /** WebSocket ping interval; a socket that missed the previous ping is dropped. */
  heartbeatMs?: number;
  /** Resolve only once the feed has joined (tests); by default it joins in the background. */
  waitForFeed?: boolean;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const SEGMENT_PATH = /^\/ws\/segments\/([^/]+)\/realtime\/?$/;
const USER_PATH = /^\/ws\/users\/([^/]+)\/segments\/?$/;

type Target = { kind: "segment"; id: string } | { kind: "user"; id: string };

const notFound = (what: string) => new AppError("NOT_FOUND", `${what} not found`, { field: "path", reason: "not found" });

function target(pathname: string): Target {
  const seg = SEGMENT_PATH.exec(pathname);
  if (seg) {
    const id = decodeURIComponent(seg[1]!);
    if (!UUID.test(id)) throw notFound(`Segment ${id.slice(0, 100)}`);
    return { kind: "segment", id: id.toLowerCase() };
  }
  const user = USER_PATH.exec(pathname);
  if (user) {
    let id: string;
    try {
      id = decodeURIComponent(user[1]!);
    } catch {
      throw new AppError("VALIDATION_ERROR", "Invalid user id", { field: "userId", reason: "malformed percent-encoding" });
    }
    if (id.length === 0 || id.length > 256) {
      throw new AppError("VALIDATION_ERROR", "Invalid user id", { field: "userId", reason: "1 to 256 characters" });
    }
    return { kind: "user", id };
  }
  throw notFound(`Realtime channel ${pathname.slice(0, 200)}`);
}

/**
 * An API key (`Authorization: Bearer` or `?token=`) or else the UI's session cookie. A
 * cookie-authenticated upgrade must come from this origin: browsers send cookies with
 * cross-site WebSocket requests, and nothing else would stop another site reading the channel.
 */
async function authenticateUpgrade(rt: Runtime, req: IncomingMessage, url: URL): Promise<Actor> {
  const now = rt.clock.now();
  const queryToken = url.searchParams.get("token");
  const authorization = req.headers.authorization ?? (queryToken ? `Bearer ${queryToken}` : null);
  if (authorization) return authenticate({ apiKeys: rt.apiKeys, adminApiKey: rt.env.ADMIN_API_KEY }, authorization, now);
  const token = sessionTokenFromCookieHeader(req.headers.cookie);
  const user = token ? await sessionUserFromToken(rt.accountDeps, rt.authSecret, token) : null;
  if (!user) {
    throw new AppError("UNAUTHORIZED", "Authentication required", {
      field: "Authorization",
      reason: token ? "session expired or invalid" : "missing session cookie or API key",
    });
  }
  const origin = req.headers.origin;
  if (origin) {
    let host: string | null = null;
    try {
      host = new URL(origin).host;
    } catch {
      /* malformed: refused below */
    }
    if (host !== req.headers.host) {
      throw new AppError("FORBIDDEN", "Cross-origin request refused", { field: "Origin", reason: "must match the host" });
    }
  }
  return { id: `user:${user.id}`, scopes: roleScopes[user.role] };
}

/** Answers a refused upgrade in plain HTTP with the seed's error body, then drops the socket. */
function refuse(socket: Duplex, error: unknown, log: Runtime["log"]) {
  const e =
    error instanceof AppError || (error as Error | null)?.name === "AppError"
      ? (error as AppError)
      : new AppError("INTERNAL_ERROR", "Internal server error");
  if (!(error instanceof AppError)) log.error({ err: error }, "realtime: upgrade failed");
  const body = JSON.stringify({
    error: { code: e.code, message: e.message, details: e.details, timestamp: new Date().toISOString(), traceId: null },
  });
  const reason = { 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found" }[e.status] ?? "Error";
  socket.end(
    `HTTP/1.1 ${e.status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
  setTimeout(() => socket.destroy(), 1_000).unref();
}

function figuresOf(s: Awaited<ReturnType<typeof getSegment>>): SegmentFigures {
  const ev = s.stats.evaluation;
  return {
    segment: { name: s.name, type: s.type, active: s.active, version: s.version },
    stats: {
      currentMembers: s.stats.currentMembers,
      entriesLast24h: s.stats.entriesLast24h,
      exitsLast24h: s.stats.exitsLast24h,
      evaluation: ev
        ? {
            state: ev.state,
            version: ev.version,
            usersTotal: ev.usersTotal,
            usersRemaining: ev.usersRemaining,
            updatedAt: ev.updatedAt.toISOString(),
          }
        : null,
    },
  };
}

export async function startRealtime(server: Server, rt: Runtime, options: RealtimeOptions = {}): Promise<RealtimeServer> {
  const log = rt.log;
  const hub = new RealtimeHub((error) => log.warn({ err: error }, "realtime: listener failed"));
  const channels = new RealtimeChannels(
    {
      hub,
      now: () => rt.clock.now().getTime(),
      log,
      segmentFigures: async (id) => {
        try {
          return figuresOf(await getSegment(rt.segmentDeps, id, rt.clock.now()));
        } catch (error) {
          if ((error as AppError | null)?.code === "NOT_FOUND") return null;
          throw error;
        }
      },
      userSegments: async (userId) => {
        const r = await userSegments(rt, userId, rt.clock.now());
        return r.segments.map((s) => ({ ...s, enteredAt: s.enteredAt.toISOString() }));
      },
      segmentNames: (ids) => rt.segments.names(ids),
    },
    options.timings,
  );
  // The feed joins in the background and retries: a broker that is down must not keep the web
  // process from serving (snapshots still poll the figures meanwhile).
  let feed: Subscription | null = null;
  let stopped = false;
  let retry: NodeJS.Timeout | null = null;
  const groupId = options.groupId ?? `realtime-${instanceId()}`;
  const joined = new Promise<void>((resolve) => {
    const join = () => {
      startMembershipFeed(rt.eventLog, hub, {
        groupId,
        onMalformed: (info) => log.warn(info, "realtime: skipped a malformed segment-memberships message"),
      }).then(
        (sub) => {
          if (stopped) void sub.close();
          else feed = sub;
          resolve();
        },
        (error: unknown) => {
          log.warn({ err: error }, "realtime: could not subscribe to segment-memberships; retrying in 5 s");
          if (!stopped) retry = setTimeout(join, 5_000);
          else resolve();
        },
      );
    };
    join();
  });
  if (options.waitForFeed) await joined;

  const wss = new WebSocketServer({ noServer: true, maxPayload: 4 * 1024 });
  const alive = new WeakMap<WebSocket, boolean>();

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (!url.pathname.startsWith("/ws/")) return;
    socket.on("error", () => {});
    void (async () => {
      let where: Target;
      try {
        where = target(url.pathname);
        const actor = await authenticateUpgrade(rt, req, url);
        requireScope(actor, "read");
        if (where.kind === "segment" && !(await rt.segments.get(where.id))) throw notFound(`Segment ${where.id}`);
      } catch (error) {
        refuse(socket, error, log);
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => {
        alive.set(ws, true);
        ws.on("pong", () => alive.set(ws, true));
        ws.on("error", (err) => log.debug({ err }, "realtime: socket error"));
        const sink: Sink = {
          send: (m) => {
            if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(m));
          },
          close: (code, reason) => ws.close(code, reason),
        };
        let closeChannel: (() => void) | null = null;
        let gone = false;
        ws.on("close", () => {
          gone = true;
          closeChannel?.();
        });
        const open = where.kind === "segment" ? channels.openSegment(where.id, sink) : channels.openUser(where.id, sink);
        open.then(
          (close) => {
            if (gone) close();
            else closeChannel = close;
          },
          (error: unknown) => {
            log.error({ err: error }, "realtime: could not open the channel");
            sink.send({ type: "error", code: "INTERNAL_ERROR", message: "Could not open the channel" });
            ws.close(1011, "internal error");
          },
        );
      });
    })();
  };
  server.on("upgrade", onUpgrade);

  const heartbeat = setInterval(() => {
    for (const ws of wss.clients) {
      if (alive.get(ws) === false) {
        ws.terminate();
        continue;
      }
      alive.set(ws, false);
      ws.ping();
    }
  }, options.heartbeatMs ?? 30_000);
  heartbeat.unref();

  let closing: Promise<void> | undefined;
  return {
    hub,
    channels,
    close() {
      closing ??= (async () => {
        server.off("upgrade", onUpgrade);
        clearInterval(heartbeat);
        channels.closeAll(1001, "server shutting down");
        // Let the close frames go out; then drop whatever has not finished the handshake.
        const open = [...wss.clients].filter((ws) => ws.readyState !== ws.CLOSED);
        await Promise.race([
          Promise.all(open.map((ws) => new Promise<void>((resolve) => ws.once("close", () => resolve())))),
          new Promise((resolve) => setTimeout(resolve, 1_000).unref()),
        ]);
        for (const ws of wss.clients) ws.terminate();
        await new Promise<void>((resolve) => wss.close(() => resolve()));
        stopped = true;
        if (retry) clearTimeout(retry);
        await feed?.close();
      })();
      return closing;
    },
  };
}
