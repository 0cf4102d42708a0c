// drizzle-kit configuration for auth's own PostgreSQL schema; `bunx drizzle-kit generate`
// writes the committed SQL migrations that main.ts applies at start.
import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  schema: "./src/db/schema.ts",
  out: "./src/db/migrations",
  schemaFilter: ["auth"],
});
