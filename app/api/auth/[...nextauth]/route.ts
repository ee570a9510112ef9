import NextAuth from "next-auth";
import { authOptions } from "@/lib/auth/options";
import { runtime } from "@/lib/runtime";

// next-auth's endpoints (sign-in with email + password, sign-out, session, CSRF token).
async function handler(req: Request, context: { params: Promise<{ nextauth: string[] }> }) {
  return NextAuth(req as never, context as never, authOptions(await runtime())) as Promise<Response>;
}

export { handler as GET, handler as POST };
