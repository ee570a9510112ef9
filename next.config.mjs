/** @type {import('next').NextConfig} */
const nextConfig = {
  // Native, WASM and long-lived clients stay out of the bundles and load from node_modules.
  serverExternalPackages: ["@electric-sql/pglite", "pg", "kafkajs", "aerospike", "pino", "drizzle-orm", "nodemailer", "web-push"],
  // Parallel builds/dev servers (tests, several developers on one checkout) can use their own output directory.
  distDir: process.env.NEXT_DIST_DIR || ".next",
  poweredByHeader: false,
  reactStrictMode: true,
  // `npm run typecheck` is the type gate (CI runs it first); end-to-end builds may skip Next's copy of it.
  typescript: { ignoreBuildErrors: process.env.NEXT_SKIP_TYPECHECK === "1" },
};

export default nextConfig;
