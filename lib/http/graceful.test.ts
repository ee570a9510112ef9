import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { drainable, type Drainable } from "./graceful";

interface Answer {
  status: number;
  connection: string | undefined;
  body: string;
}

function get(port: number, path: string, agent: http.Agent): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path, agent }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode!, connection: res.headers.connection, body }));
      res.on("error", reject);
    });
    req.on("error", reject);
  });
}

describe("drainable: stopping an HTTP server without failing requests", () => {
  let server: http.Server;
  let drain: Drainable;
  let port: number;
  const agents: http.Agent[] = [];
  const hanging: http.ServerResponse[] = [];

  async function start() {
    server = http.createServer((req, res) => {
      if (req.url === "/hang") {
        hanging.push(res);
        return;
      }
      const delay = req.url === "/slow" ? 300 : 0;
      setTimeout(() => res.writeHead(200, { "content-type": "text/plain" }).end(`ok ${req.url}`), delay);
    });
    server.keepAliveTimeout = 65_000;
    drain = drainable(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  }

  const agent = () => {
    const a = new http.Agent({ keepAlive: true, maxSockets: 1 });
    agents.push(a);
    return a;
  };

  afterEach(() => {
    for (const a of agents.splice(0)) a.destroy();
    hanging.splice(0);
    server?.closeAllConnections();
  });

  it("answers a request arriving on an idle keep-alive connection after the drain began, telling the client to close it", async () => {
    await start();
    const a = agent();
    expect((await get(port, "/first", a)).connection).not.toBe("close");
    const sockets = drain.connections;
    expect(sockets).toBe(1);
    const drained = drain.drain({ idleGraceMs: 5_000, timeoutMs: 10_000 });
    // The client reuses its idle connection: plain server.close() would have destroyed it under it.
    const second = await get(port, "/second", a);
    expect(second).toEqual({ status: 200, connection: "close", body: "ok /second" });
    const started = Date.now();
    await drained;
    // Resolved as soon as the client closed the connection, not after the idle grace.
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(drain.connections).toBe(0);
  });

  it("finishes requests in flight, refuses new connections, and closes connections that stay idle after the grace", async () => {
    await start();
    const idle = agent();
    await get(port, "/warm", idle);
    const slow = get(port, "/slow", agent());
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    const drained = drain.drain({ idleGraceMs: 400, timeoutMs: 5_000 });
    await expect(get(port, "/new", new http.Agent({ keepAlive: false }))).rejects.toMatchObject({ code: "ECONNREFUSED" });
    expect(await slow).toEqual({ status: 200, connection: "close", body: "ok /slow" });
    await drained;
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(380);
    expect(took).toBeLessThan(2_000);
    expect(drain.connections).toBe(0);
  });

  it("gives up on a request that never ends after the timeout", async () => {
    await start();
    const stuck = get(port, "/hang", agent());
    await new Promise((r) => setTimeout(r, 50));
    expect(hanging).toHaveLength(1);
    const started = Date.now();
    await drain.drain({ idleGraceMs: 100, timeoutMs: 500 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(480);
    await expect(stuck).rejects.toThrow();
    expect(drain.draining).toBe(true);
  });
});
