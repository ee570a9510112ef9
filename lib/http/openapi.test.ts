import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { routeFiles } from "@/test/support/api-server";
import { buildOpenApiDocument } from "./openapi";
import { operations, UNDOCUMENTED_ROUTES, type ApiOperation } from "./openapi-registry";

/**
 * Keeps the OpenAPI document honest: every method exported by an app/**\/route.ts is in the
 * registry (and nothing else is), with the scope the handler requires and the very schema
 * objects it parses.
 */
interface DiskOperation {
  key: string;
  file: string;
  scope: string | null;
  body: string | null;
  query: string | null;
  imports: Map<string, string>;
}

function diskOperations(): DiskOperation[] {
  const out: DiskOperation[] = [];
  for (const route of routeFiles()) {
    if (UNDOCUMENTED_ROUTES.includes(route.path)) continue;
    const source = readFileSync(route.file, "utf8");
    const imports = new Map<string, string>();
    for (const m of source.matchAll(/import\s*\{([^}]+)\}\s*from\s*"([^"]+)"/g)) {
      for (const name of m[1]!.split(",").map((n) => n.trim()).filter(Boolean)) {
        const [imported, local] = name.replace(/^type\s+/, "").split(/\s+as\s+/);
        imports.set((local ?? imported)!, m[2]!);
      }
    }
    const exports = [...source.matchAll(/export const (GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)\s*=/g)];
    exports.forEach((m, i) => {
      const text = source.slice(m.index, exports[i + 1]?.index ?? source.length);
      const options = /route\(\s*\{([^}]*)\}/.exec(text)?.[1] ?? "";
      out.push({
        key: `${m[1]} ${route.path}`,
        file: path.relative(process.cwd(), route.file),
        scope: text.includes("segmentCallRoute(") ? "write-key" : (/scope:\s*"([\w-]+)"/.exec(options)?.[1] ?? null),
        body: /body:\s*(\w+)/.exec(options)?.[1] ?? null,
        query: /query:\s*(\w+)/.exec(options)?.[1] ?? null,
        imports,
      });
    });
  }
  return out;
}

const registered = new Map(Object.entries(operations).map(([id, o]) => [`${o.method} ${o.path}`, { id, ...(o as ApiOperation) }]));

describe("the OpenAPI registry", () => {
  const disk = diskOperations();

  it("documents every route handler on disk", () => {
    const missing = disk.filter((d) => !registered.has(d.key)).map((d) => `${d.key} (${d.file})`);
    expect(missing, "add these to lib/http/openapi-registry.ts").toEqual([]);
  });

  it("documents nothing that is not on disk", () => {
    const onDisk = new Set(disk.map((d) => d.key));
    expect([...registered.keys()].filter((k) => !onDisk.has(k))).toEqual([]);
  });

  it("states the scope each handler requires", () => {
    const wrong = disk
      .filter((d) => registered.has(d.key) && registered.get(d.key)!.scope !== d.scope)
      .map((d) => `${d.key}: handler ${d.scope}, registry ${registered.get(d.key)!.scope}`);
    expect(wrong).toEqual([]);
  });

  it("names the very schema objects the handlers parse", async () => {
    const wrong: string[] = [];
    for (const d of disk) {
      const o = registered.get(d.key);
      if (!o) continue;
      for (const part of ["body", "query"] as const) {
        const name = d[part];
        if (name === null) {
          if (o[part] && d.scope !== "write-key") wrong.push(`${d.key}: the handler parses no ${part}, the registry has one`);
          continue;
        }
        const from = d.imports.get(name);
        if (!from) {
          wrong.push(`${d.key}: ${part} schema ${name} is not imported by name`);
          continue;
        }
        const mod = (await import(from)) as Record<string, unknown>;
        if (mod[name] !== o[part]) wrong.push(`${d.key}: the registry's ${part} is not ${name} from ${from}`);
      }
    }
    expect(wrong).toEqual([]);
  });
});

describe("the OpenAPI document", () => {
  const doc = buildOpenApiDocument();

  it("is OpenAPI 3.1 with every operation, its path parameters, body and answers", () => {
    expect(doc.openapi).toBe("3.1.0");
    for (const [id, o] of Object.entries(operations) as [string, ApiOperation][]) {
      const operation = doc.paths[o.path]?.[o.method.toLowerCase()] as Record<string, any> | undefined;
      expect(operation, id).toBeDefined();
      expect(operation!.operationId).toBe(id);
      const pathParams = [...o.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      expect(operation!.parameters?.filter((p: any) => p.in === "path").map((p: any) => p.name) ?? []).toEqual(pathParams);
      expect(Boolean(operation!.requestBody), `${id} request body`).toBe(Boolean(o.body));
      expect(Object.keys(operation!.responses)).toContain(String(o.status ?? 200));
    }
    // Plain JSON, no nested $schema declarations.
    const text = JSON.stringify(doc);
    expect(JSON.parse(text)).toEqual(doc);
    expect(text).not.toContain('"$schema"');
  });

  it("describes bodies and queries from the handlers' schemas", () => {
    const create = doc.paths["/api/v1/segments"]!.post as any;
    const schema = JSON.stringify(create.requestBody.content["application/json"].schema);
    expect(schema).toContain('"windowMinutes"');
    expect(schema).toContain('"maximum":1440');
    const list = doc.paths["/api/v1/segments"]!.get as any;
    expect(list.parameters.map((p: any) => p.name)).toEqual(expect.arrayContaining(["page", "pageSize", "type", "active", "search"]));
    const batch = doc.paths["/v1/batch"]!.post as any;
    expect(batch.security).toEqual([{ writeKey: [] }, { bearerAuth: [] }]);
    expect(JSON.stringify(batch.requestBody.content["application/json"].schema)).toContain('"messageId"');
    const csv = doc.paths["/api/v1/segments/{segmentId}/members.csv"]!.get as any;
    expect(Object.keys(csv.responses["200"].content)).toEqual(["text/csv"]);
    expect((doc.paths["/api/v1/events/health"]!.get as any).security).toEqual([]);
  });
});
