import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { getSessionUser } from "@/lib/auth/session";
import { LoginForm } from "./login-form";

export const metadata: Metadata = { title: "Sign in" };
export const dynamic = "force-dynamic";

export default async function LoginPage({ searchParams }: { searchParams: Promise<{ callbackUrl?: string; error?: string }> }) {
  const params = await searchParams;
  const next = safeCallback(params.callbackUrl);
  if (await getSessionUser()) redirect(next);
  return (
    <main className="flex min-h-screen items-center justify-center px-4">
      <div className="w-full max-w-sm">
        <p className="mb-6 text-center text-lg font-semibold tracking-tight text-indigo-700">Audience Manager</p>
        <div className="rounded-lg border border-slate-200 bg-white p-6 shadow-sm">
          <h1 className="mb-4 text-xl font-semibold text-slate-950">Sign in</h1>
          <LoginForm callbackUrl={next} initialError={params.error ? "Sign-in failed. Check your email and password." : null} />
        </div>
      </div>
    </main>
  );
}

/** Only same-site paths: a sign-in link must not send anyone elsewhere. */
function safeCallback(url: string | undefined): string {
  if (!url) return "/";
  try {
    const u = new URL(url, "http://x");
    return u.origin === "http://x" || !/^https?:/.test(url) ? `${u.pathname}${u.search}` : u.pathname;
  } catch {
    return "/";
  }
}
