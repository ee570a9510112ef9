import { json, route } from "@/lib/http/route";
import { openApiDocument } from "@/lib/http/openapi";

// GET /api/v1/openapi.json — public: the OpenAPI 3.1 document, generated from the handlers' zod schemas
export const GET = route({ scope: "public" }, async () => json(openApiDocument(), 200, { "cache-control": "public, max-age=300" }));
