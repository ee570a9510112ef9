import Link from "next/link";
import { redirect } from "next/navigation";
import { Providers } from "@/components/providers";
import { NavLinks, SignOutButton, type NavItem } from "@/components/shell/nav";
import { Badge } from "@/components/ui/badge";
import { getSessionUser } from "@/lib/auth/session";

export const dynamic = "force-dynamic";

/** The signed-in shell: navigation, who is signed in, and the page. */
export default async function AdminLayout({ children }: { children: React.ReactNode }) {
  const user = await getSessionUser();
  if (!user) redirect("/login");
  const items: NavItem[] = [
    { href: "/", label: "Dashboard" },
    { href: "/segments", label: "Segments" },
    { href: "/users", label: "Users" },
    { href: "/campaigns", label: "Campaigns" },
    { href: "/webhooks", label: "Webhooks" },
    { href: "/api-docs", label: "API reference" },
    ...(user.role === "admin"
      ? [
          { href: "/audit", label: "Audit log" },
          { href: "/admin", label: "Admin" },
        ]
      : []),
  ];
  return (
    <Providers>
      <div className="min-h-screen lg:flex">
        <aside className="border-b border-slate-200 bg-white lg:w-60 lg:shrink-0 lg:self-stretch lg:border-b-0 lg:border-r">
          <div className="flex flex-col gap-4 px-4 py-4 lg:sticky lg:top-0 lg:h-screen">
            <Link href="/" className="px-3 text-base font-semibold tracking-tight text-indigo-700">
              Audience Manager
            </Link>
            <nav aria-label="Main" className="lg:flex-1">
              <NavLinks items={items} />
            </nav>
            <div className="flex items-center justify-between gap-2 border-t border-slate-100 px-3 pt-3 lg:flex-col lg:items-start">
              <Link href="/account" className="min-w-0 text-sm hover:underline">
                <span className="block truncate font-medium text-slate-900">{user.name}</span>
                <span className="block truncate text-xs text-slate-600">{user.email}</span>
              </Link>
              <div className="flex items-center gap-2">
                <Badge tone={user.role === "admin" ? "indigo" : user.role === "marketer" ? "green" : "gray"}>{user.role}</Badge>
                <SignOutButton />
              </div>
            </div>
          </div>
        </aside>
        <main className="min-w-0 flex-1 px-4 py-6 sm:px-8 lg:py-8">
          <div className="mx-auto max-w-6xl">
            {user.mustChangePassword ? (
              <p role="status" className="mb-6 rounded-md border border-amber-200 bg-amber-50 px-4 py-3 text-sm text-amber-900">
                You signed in with a one-time password.{" "}
                <Link href="/account" className="font-medium underline underline-offset-2">
                  Choose your own password
                </Link>
                .
              </p>
            ) : null}
            {children}
          </div>
        </main>
      </div>
    </Providers>
  );
}
