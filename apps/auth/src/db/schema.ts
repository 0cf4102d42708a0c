// Auth's tables, all inside the PostgreSQL schema "auth" that this service alone owns:
// users, rotating refresh tokens (stored only as SHA-256 hashes), and the outbox/inbox.
import { inboxTable, outboxTable } from "@careforall/outbox";
import { sql } from "drizzle-orm";
import { check, index, pgSchema, text, timestamp, uuid } from "drizzle-orm/pg-core";

export const authSchema = pgSchema("auth");

const timestamptz = (name: string) => timestamp(name, { withTimezone: true, mode: "date" });

export const users = authSchema.table(
  "users",
  {
    /** UUIDv7 minted by the app. */
    id: uuid("id").primaryKey(),
    /** Lower-cased and trimmed before insert; the unique constraint decides duplicate registrations. */
    email: text("email").notNull().unique("users_email_key"),
    name: text("name").notNull(),
    passwordHash: text("password_hash").notNull(),
    role: text("role", { enum: ["donor", "admin"] })
      .notNull()
      .default("donor"),
    /** Filled in by the money path once the user's simulated bank account is opened. */
    bankAccountId: text("bank_account_id"),
    createdAt: timestamptz("created_at").notNull().defaultNow(),
    updatedAt: timestamptz("updated_at").notNull().defaultNow(),
  },
  (t) => [check("users_role_check", sql`${t.role} in ('donor', 'admin')`)],
);

export const refreshTokens = authSchema.table(
  "refresh_tokens",
  {
    id: uuid("id").primaryKey(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    /** Every rotation stays in its login's family; reuse of a spent token revokes the family. */
    familyId: uuid("family_id").notNull(),
    /** SHA-256 hex of the opaque token; the token itself is never stored. */
    tokenHash: text("token_hash").notNull().unique("refresh_tokens_token_hash_key"),
    expiresAt: timestamptz("expires_at").notNull(),
    usedAt: timestamptz("used_at"),
    revokedAt: timestamptz("revoked_at"),
    createdAt: timestamptz("created_at").notNull().defaultNow(),
  },
  (t) => [
    index("refresh_tokens_family_id_idx").on(t.familyId),
    index("refresh_tokens_user_id_idx").on(t.userId),
    // The denylist resync reads the families revoked in the last access-token lifetime (sessions.ts).
    index("refresh_tokens_revoked_at_idx")
      .on(t.revokedAt)
      .where(sql`${t.revokedAt} is not null`),
  ],
);

export const outbox = outboxTable(authSchema);
export const inbox = inboxTable(authSchema);

export type UserRow = typeof users.$inferSelect;
export type RefreshTokenRow = typeof refreshTokens.$inferSelect;
