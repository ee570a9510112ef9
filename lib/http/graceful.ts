/**
 * Graceful stop of an HTTP server, so that `pm2 reload` (or any SIGINT/SIGTERM under traffic)
 * fails no request.
 *
 * Node's `server.close()` stops listening but also destroys every idle keep-alive connection at
 * once (Node ≥ 19). A client that has just written its next request onto such a connection gets
 * a reset instead of an answer: a failed request, although nothing was wrong. {@link drainable}
 * stops differently:
 * 1. stop listening (in pm2's cluster mode the master then hands new connections to the other
 *    instances);
 * 2. answer every request still arriving on an open connection normally, but with
 *    `Connection: close`, so the client itself retires the connection after that answer — no race;
 * 3. after `idleGraceMs`, close the connections that stayed idle all that time (a client that
 *    quiet is not about to send), and wait for the requests in flight;
 * 4. after `timeoutMs`, close whatever is left.
 */
import net from "node:net";
import type { IncomingMessage, Server, ServerResponse } from "node:http";

export interface DrainOptions {
  /** How long idle keep-alive connections get to carry one more request before they are closed. Default 2000. */
  idleGraceMs?: number;
  /** Longest wait for requests in flight before every connection is closed. Default 10000. */
  timeoutMs?: number;
}

export interface Drainable {
  /** True once {@link drain} was called. */
  readonly draining: boolean;
  /** Connections open now (upgraded WebSockets excluded). */
  readonly connections: number;
  /** Stops the server as described in the module comment; resolves once every connection is closed. */
  drain(options?: DrainOptions): Promise<void>;
}

interface Connection {
  /** Requests received on the connection and not answered yet. */
  active: number;
}

/** Tracks `server`'s connections from now on (call it before `listen`). */
export function drainable(server: Server): Drainable {
  const connections = new Map<net.Socket, Connection>();
  const inFlight = new Set<ServerResponse>();
  let draining = false;
  let closing: Promise<void> | null = null;

  server.on("connection", (socket: net.Socket) => {
    connections.set(socket, { active: 0 });
    socket.once("close", () => connections.delete(socket));
  });
  // WebSockets are the realtime server's to close.
  server.on("upgrade", (req: IncomingMessage) => connections.delete(req.socket));
  // Before the app's own listener, so the header is set before anything is written.
  server.prependListener("request", (req: IncomingMessage, res: ServerResponse) => {
    const connection = connections.get(req.socket);
    if (connection) connection.active++;
    inFlight.add(res);
    if (draining) res.setHeader("connection", "close");
    res.once("close", () => {
      inFlight.delete(res);
      if (connection) connection.active--;
    });
  });

  const wait = (ms: number, done: () => boolean) =>
    new Promise<void>((resolve) => {
      const until = Date.now() + ms;
      const tick = () => (done() || Date.now() >= until ? resolve() : setTimeout(tick, 20).unref());
      tick();
    });

  return {
    get draining() {
      return draining;
    },
    get connections() {
      return connections.size;
    },
    drain(options = {}) {
      closing ??= (async () => {
        const idleGraceMs = options.idleGraceMs ?? 2000;
        const timeoutMs = options.timeoutMs ?? 10_000;
        draining = true;
        for (const res of inFlight) if (!res.headersSent) res.setHeader("connection", "close");
        // net.Server's close: stop listening without http.Server's immediate closeIdleConnections().
        const closed = new Promise<void>((resolve) => net.Server.prototype.close.call(server, () => resolve()));
        await wait(idleGraceMs, () => connections.size === 0);
        for (const [socket, connection] of connections) if (connection.active === 0) socket.destroy();
        await wait(Math.max(0, timeoutMs - idleGraceMs), () => connections.size === 0);
        for (const socket of connections.keys()) socket.destroy();
        await closed;
      })();
      return closing;
    },
  };
}
