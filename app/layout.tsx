import type { Metadata } from "next";
import localFont from "next/font/local";
import Link from "next/link";
import "./globals.css";

const inter = localFont({
  src: "../node_modules/@fontsource-variable/inter/files/inter-latin-wght-normal.woff2",
  variable: "--font-inter",
  display: "swap",
  weight: "100 900",
});

export const metadata: Metadata = {
  title: { default: "Audience Manager", template: "%s · Audience Manager" },
  description: "Real-time audience segmentation and campaigns",
};

export default function RootLayout({ children }: { children: React.ReactNode }) {
  return (
    <html lang="en" className={inter.variable}>
      <body className="min-h-screen bg-slate-50 font-sans text-slate-900 antialiased">
        <header className="border-b border-slate-200 bg-white">
          <nav aria-label="Main" className="mx-auto flex h-14 max-w-6xl items-center gap-6 px-6">
            <Link href="/" className="font-semibold tracking-tight text-indigo-700">
              Audience Manager
            </Link>
            <Link href="/segments" className="text-sm text-slate-700 hover:text-slate-950">
              Segments
            </Link>
          </nav>
        </header>
        <main className="mx-auto max-w-6xl px-6 py-8">{children}</main>
      </body>
    </html>
  );
}
