import js from "@eslint/js";
import tseslint from "typescript-eslint";
import reactHooks from "eslint-plugin-react-hooks";

const frameworkAndIo = ["next", "next/*", "react", "react-dom", "pg", "drizzle-orm", "drizzle-orm/*", "kafkajs", "aerospike", "@electric-sql/*", "node:fs", "node:net", "node:http", "fs", "net", "http"];

export default tseslint.config(
  { ignores: ["node_modules/**", ".next/**", "data/**", ".cache/**", "db/migrations/**", "next-env.d.ts"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    plugins: { "react-hooks": reactHooks },
    rules: {
      ...reactHooks.configs.recommended.rules,
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": ["error", { fixStyle: "inline-type-imports" }],
    },
  },
  {
    // The pure core: no framework, database, broker or file-system imports. Time is a parameter.
    files: ["lib/segments/**/*.ts", "lib/events/**/*.ts", "lib/campaigns/**/*.ts", "lib/evaluation/**/*.ts", "lib/templates/**/*.ts", "lib/limits/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            { group: frameworkAndIo, message: "The pure core in lib/ takes no framework or I/O imports: use a port." },
            { group: ["@/lib/adapters/*", "@/db/*", "@/lib/runtime", "@/lib/services/*"], message: "The core must not depend on adapters, services or the DB." },
          ],
        },
      ],
    },
  },
  {
    files: ["**/*.test.ts", "test/**/*.ts"],
    rules: { "@typescript-eslint/no-explicit-any": "off" },
  },
  {
    files: ["scripts/**/*.mjs", "*.cjs", "*.mjs"],
    languageOptions: { globals: { process: "readonly", console: "readonly", URL: "readonly", module: "writable", require: "readonly" } },
  },
);
