// drizzle-kit settings for the chat service; `bunx drizzle-kit generate` writes the committed SQL
// migrations that boot applies at start.
import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  schema: "./src/db/schema.ts",
  out: "./src/db/migrations",
  schemaFilter: ["chat"],
});
