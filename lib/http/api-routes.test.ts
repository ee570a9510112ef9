import http from "node:http";
import net from "node:net";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { answerClientError, createApiGuard, exportedMethods, scanApiRoutes } from "./api-routes";

const routes = scanApiRoutes(path.join(process.cwd(), "app"));
const guard = createApiGuard(routes);

describe("exportedMethods", () => {
  it("reads the export forms route files use", () => {
    expect([...exportedMethods(`export const GET = route({}, h);\nexport const POST = route({}, h);`)]).toEqual(["GET", "POST"]);
    expect([...exportedMethods(`export async function DELETE(req) {}\nexport function PATCH() {}`)]).toEqual(["DELETE", "PATCH"]);
    expect([...exportedMethods(`const handler = NextAuth(o);\nexport { handler as GET, handler as POST };`)]).toEqual(["GET", "POST"]);
    expect([...exportedMethods(`export const dynamic = "force-dynamic";\nexport const revalidate = 0;`)]).toEqual([]);
  });
});

describe("scanApiRoutes on app/", () => {
  it("finds every route file and exactly the methods each module exports", async () => {
    expect(routes.length).toBeGreaterThan(40);
    for (const route of routes) {
      const mod = (await import(/* @vite-ignore */ route.file)) as Record<string, unknown>;
      const exported = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"].filter((m) => typeof mod[m] === "function");
      expect([...route.methods].sort(), route.path).toEqual(exported.sort());
    }
    expect(routes.find((r) => r.path === "/api/auth/{...nextauth}")?.methods).toEqual(new Set(["GET", "POST"]));
  }, 60_000);
});

describe("the API guard", () => {
  const refusal = (method: string, url: string) => {
    const e = guard.check(method, url);
    return e && { code: e.code, status: e.status, field: e.details.field, allow: e.headers.allow };
  };

  it("lets routed methods through, HEAD and OPTIONS included, whatever the query", () => {
    expect(guard.check("GET", "/api/v1/segments?page=1&x=%ZZ")).toBeNull();
    expect(guard.check("POST", "/api/v1/segments")).toBeNull();
    expect(guard.check("HEAD", "/api/v1/segments")).toBeNull();
    expect(guard.check("OPTIONS", "/api/v1/events")).toBeNull();
    expect(guard.check("GET", "/api/v1/users/some%20user/segments")).toBeNull();
    expect(guard.check("POST", "/v1/track")).toBeNull();
  });

  it("answers 404 NOT_FOUND for a path no route file serves", () => {
    expect(refusal("GET", "/api/v1/nope")).toEqual({ code: "NOT_FOUND", status: 404, field: "path", allow: undefined });
    expect(refusal("GET", "/api/v1/segments/a/b/c/d")).toMatchObject({ code: "NOT_FOUND" });
    expect(refusal("POST", "/v1/nope")).toMatchObject({ code: "NOT_FOUND" });
    expect(refusal("GET", "/api")).toBeNull(); // not under /api/: Next's pages
  });

  it("answers 405 METHOD_NOT_ALLOWED with Allow for a method the route does not export", () => {
    expect(refusal("DELETE", "/api/v1/events")).toEqual({ code: "METHOD_NOT_ALLOWED", status: 405, field: "method", allow: "POST, OPTIONS" });
    expect(refusal("PUT", "/api/v1/segments")).toMatchObject({ status: 405, allow: "GET, HEAD, POST, OPTIONS" });
  });

  it("takes a static segment over a dynamic one, as Next does", () => {
    expect(routes.some((r) => r.path === "/api/v1/segments/stats")).toBe(true);
    expect(guard.check("GET", "/api/v1/segments/stats")).toBeNull();
    // {segmentId} takes PUT, but the static `stats` route wins and does not.
    expect(refusal("PUT", "/api/v1/segments/stats")).toMatchObject({ status: 405 });
    expect(guard.check("PUT", "/api/v1/segments/0b0e5a52-1f59-4a3c-9a3e-2f6c3a1d9b10")).toBeNull();
  });

  it("answers 400 for a malformed percent-escape in the path (Next would answer a plain-text 500)", () => {
    expect(refusal("GET", "/api/v1/segments/%E0%A4%A")).toMatchObject({ code: "VALIDATION_ERROR", status: 400, field: "path" });
    expect(refusal("GET", "/api/v1/users/%/segments")).toMatchObject({ status: 400 });
    expect(refusal("POST", "/api/auth/%FF%FE")).toMatchObject({ status: 400 }); // next-auth's paths too
  });

  it("leaves next-auth, trailing slashes and double slashes (Next redirects them) and non-API paths alone", () => {
    expect(guard.check("DELETE", "/api/auth/signin")).toBeNull();
    expect(guard.check("GET", "/api/v1/segments/")).toBeNull();
    expect(guard.check("GET", "/api//v1/segments")).toBeNull();
    expect(guard.check("GET", "/segments/%E0")).toBeNull();
  });
});

describe("answerClientError", () => {
  async function rawExchange(request: string): Promise<string> {
    const server = http.createServer((_req, res) => res.end("ok"));
    server.on("clientError", answerClientError);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      return await new Promise<string>((resolve, reject) => {
        const socket = net.connect((server.address() as net.AddressInfo).port, "127.0.0.1", () => socket.write(request));
        let data = "";
        socket.on("data", (d: Buffer) => (data += d.toString()));
        socket.on("end", () => resolve(data));
        socket.on("error", reject);
      });
    } finally {
      server.close();
    }
  }
  const bodyOf = (raw: string) => JSON.parse(raw.slice(raw.indexOf("\r\n\r\n") + 4));

  it("answers headers over Node's limit with 431 in the seed's format", async () => {
    const raw = await rawExchange(`GET /api/v1/segments HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`);
    expect(raw.startsWith("HTTP/1.1 431 ")).toBe(true);
    expect(bodyOf(raw).error).toMatchObject({ code: "HEADERS_TOO_LARGE", details: { field: "headers" } });
  });

  it("answers a request Node cannot parse with 400 in the seed's format", async () => {
    const raw = await rawExchange("GET /x HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n");
    expect(raw.startsWith("HTTP/1.1 400 ")).toBe(true);
    expect(Object.keys(bodyOf(raw).error).sort()).toEqual(["code", "details", "message", "timestamp", "traceId"]);
  });
});
