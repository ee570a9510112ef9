import { randomUUID } from "node:crypto";
import NextAuth from "next-auth";
import { authOptions } from "@/lib/auth/options";
import { AppError } from "@/lib/errors";
import { toErrorResponse } from "@/lib/http/route";
import { runtime } from "@/lib/runtime";

// next-auth's endpoints (sign-in with email + password, sign-out, session, CSRF token).
async function handler(req: Request, context: { params: Promise<{ nextauth: string[] }> }) {
  const traceId = randomUUID();
  try {
    // next-auth parses a JSON body itself and answers a plain 500 when it is malformed.
    if (req.method === "POST" && (req.headers.get("content-type") ?? "").includes("application/json")) {
      const text = await req.clone().text();
      try {
        JSON.parse(text);
      } catch (e) {
        throw new AppError("INVALID_JSON", "Request body is not valid JSON", { field: "body", reason: e instanceof Error ? e.message : "malformed JSON" });
      }
    }
    return await (NextAuth(req as never, context as never, authOptions(await runtime())) as Promise<Response>);
  } catch (error) {
    return toErrorResponse(error, traceId);
  }
}

export { handler as GET, handler as POST };
