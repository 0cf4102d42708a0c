// drizzle-kit settings for the notification service; migrations are generated, reviewed and committed.
import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  schema: "./src/db/schema.ts",
  out: "./src/db/migrations",
  schemaFilter: ["notification"],
});
