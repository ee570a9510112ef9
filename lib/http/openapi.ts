import { z } from "zod";
import { errorResponseSchema } from "./api-schemas";
import { operations, type ApiOperation } from "./openapi-registry";

/**
 * The OpenAPI 3.1 document of the REST API, generated from the operation registry: request
 * bodies and query parameters from the very zod schemas the handlers parse (as inputs), answers
 * from the wire schemas (lib/http/api-schemas.ts). JSON Schema draft 2020-12, as 3.1 uses.
 */
type JsonSchema = Record<string, unknown>;

function jsonSchema(schema: z.ZodType, io: "input" | "output"): JsonSchema {
  const out = z.toJSONSchema(schema, { target: "draft-2020-12", io, unrepresentable: "any" }) as JsonSchema;
  delete out.$schema;
  return out;
}

const pathParams = (path: string) => [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);

function queryParameters(schema: z.ZodType): JsonSchema[] {
  const s = jsonSchema(schema, "input");
  const properties = (s.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((s.required as string[] | undefined) ?? []);
  return Object.entries(properties).map(([name, prop]) => ({
    name,
    in: "query",
    required: required.has(name),
    ...(typeof prop.description === "string" ? { description: prop.description } : {}),
    schema: prop,
  }));
}

const errorRef = { $ref: "#/components/schemas/Error" };
const errorResponse = (description: string) => ({ description, content: { "application/json": { schema: errorRef } } });

function security(scope: ApiOperation["scope"]) {
  if (scope === "public") return [];
  if (scope === "write-key") return [{ writeKey: [] }, { bearerAuth: [] }];
  return [{ bearerAuth: [] }, { sessionCookie: [] }];
}

function operationObject(id: string, o: ApiOperation) {
  const status = String(o.status ?? 200);
  const parameters = [
    ...pathParams(o.path).map((name) => ({ name, in: "path", required: true, schema: { type: "string" } })),
    ...(o.query ? queryParameters(o.query) : []),
  ];
  const requestSchema = o.bodyDoc ?? o.body;
  const responses: Record<string, unknown> = {
    [status]:
      o.response === "csv"
        ? { description: "CSV, streamed (RFC 4180, CRLF rows, header first)", content: { "text/csv": { schema: { type: "string" } } } }
        : o.response === "text"
          ? { description: "Text", content: { "text/plain": { schema: { type: "string" } } } }
          : o.response
          ? { description: "Success", content: { "application/json": { schema: jsonSchema(o.response, "output") } } }
          : { description: "Success, no body" },
    ...(o.body || o.query || o.path.includes("{") ? { 400: errorResponse("Invalid input (VALIDATION_ERROR with the failing field, INVALID_JSON)") } : {}),
    ...(o.scope !== "public" ? { 401: errorResponse("No or an unknown key"), 403: errorResponse(`The caller lacks the '${o.scope === "write-key" ? "ingest" : o.scope}' scope`) } : {}),
    ...(o.path.includes("{") ? { 404: errorResponse("Not found") } : {}),
    503: errorResponse("A backing service is unavailable (Retry-After)"),
  };
  return {
    operationId: id,
    summary: o.summary,
    tags: [o.tag],
    security: security(o.scope),
    ...(o.scope !== "public" ? { "x-required-scope": o.scope === "write-key" ? "ingest" : o.scope } : {}),
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(requestSchema ? { requestBody: { required: true, content: { "application/json": { schema: jsonSchema(requestSchema, "input") } } } } : {}),
    responses,
  };
}

export function buildOpenApiDocument() {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [id, o] of Object.entries(operations) as [string, ApiOperation][]) {
    (paths[o.path] ??= {})[o.method.toLowerCase()] = operationObject(id, o);
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Audience Manager API",
      version: "1",
      description:
        "Real-time audience segmentation and campaigns. Errors share one format (components.schemas.Error). " +
        "Webhook deliveries carry X-AM-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, \"<t>.<body>\")> and X-AM-Delivery-Id.",
    },
    servers: [{ url: "/" }],
    tags: [...new Set(Object.values(operations).map((o) => o.tag))].map((name) => ({ name })),
    paths,
    components: {
      schemas: { Error: jsonSchema(errorResponseSchema, "output") },
      securitySchemes: {
        bearerAuth: { type: "http", scheme: "bearer", description: "An API key (or ADMIN_API_KEY)" },
        sessionCookie: { type: "apiKey", in: "cookie", name: "next-auth.session-token", description: "The UI's session (writes must be same-origin)" },
        writeKey: { type: "http", scheme: "basic", description: "Segment write key as the user name, empty password; an API key with the ingest scope" },
      },
    },
  };
}

export type OpenApiDocument = ReturnType<typeof buildOpenApiDocument>;

// Built once per process (per route bundle): the registry does not change at run time.
let cached: OpenApiDocument | undefined;
export const openApiDocument = () => (cached ??= buildOpenApiDocument());
