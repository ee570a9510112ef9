import type { AuthOptions } from "next-auth";
import CredentialsProvider from "next-auth/providers/credentials";
import type { Runtime } from "@/lib/runtime";
import { signIn } from "@/lib/services/accounts";

// next-auth v4 takes its origin from NEXTAUTH_URL, else (with this) from the request Host header.
process.env.AUTH_TRUST_HOST ??= "true";

/** next-auth configuration: email + password against app_users, JWT sessions for 12 hours. */
export function authOptions(rt: Runtime): AuthOptions {
  return {
    secret: rt.authSecret,
    session: { strategy: "jwt", maxAge: 12 * 3600 },
    pages: { signIn: "/login", error: "/login" },
    logger: {
      error: (code, metadata) => rt.log.error({ code, metadata }, "next-auth error"),
      warn: (code) => rt.log.warn({ code }, "next-auth warning"),
      debug: () => {},
    },
    providers: [
      CredentialsProvider({
        name: "Email",
        credentials: {
          email: { label: "Email", type: "email" },
          password: { label: "Password", type: "password" },
        },
        authorize: async (credentials) => {
          const email = typeof credentials?.email === "string" ? credentials.email : "";
          const password = typeof credentials?.password === "string" ? credentials.password : "";
          if (!email || !password || password.length > 1000) return null;
          const user = await signIn(rt.accountDeps, email, password, rt.clock.now());
          return user ? { id: user.id, email: user.email, name: user.name } : null;
        },
      }),
    ],
    callbacks: {
      jwt: ({ token, user }) => {
        if (user) token.sub = user.id;
        return token;
      },
    },
  };
}
