// Auth's logic, free of HTTP: accounts, password checks, token issuance and refresh rotation.
// Races are decided by the database (unique email, conditional token update), never by a read first.
import type { Clock } from "@careforall/config";
import { type Database, type Executor, isUniqueViolation } from "@careforall/db";
import { UserRegistered } from "@careforall/events";
import { conflict, type HttpMetrics, notFound, type SessionDenylist, unauthorized } from "@careforall/http";
import type { Logger } from "@careforall/log";
import { enqueue, newEvent } from "@careforall/outbox";
import { and, eq, gt, isNull } from "drizzle-orm";
import { SignJWT } from "jose";
import type { AuthConfig } from "./config";
import type * as schema from "./db/schema";
import { outbox, refreshTokens, type UserRow, users } from "./db/schema";
import { decideRefresh, hashToken, newRefreshToken, normaliseEmail } from "./domain";
import { loadSigningKeys, type SigningKeys } from "./keys";
import type { AuthModel } from "./model";
import { createEndedSessions } from "./sessions";

export type AuthDbSchema = typeof schema;
/** Drizzle over postgres.js with auth's tables (the type @careforall/outbox's enqueue accepts). */
export type AuthDatabase = Database<AuthDbSchema>;

export type AuthServiceConfig = Pick<
  AuthConfig,
  | "JWT_PRIVATE_KEY"
  | "JWT_PUBLIC_KEY"
  | "JWT_ISSUER"
  | "ACCESS_TOKEN_TTL_SECONDS"
  | "REFRESH_TOKEN_TTL_SECONDS"
  | "PASSWORD_HASH_MEMORY_KIB"
>;

export interface AuthServiceDeps {
  db: AuthDatabase;
  clock: Clock;
  config: AuthServiceConfig;
  log: Logger;
  /** Pre-loaded signing keys (main.ts loads them to fail fast); imported from config when omitted. */
  keys?: SigningKeys | Promise<SigningKeys>;
  metrics?: HttpMetrics;
  /** Called after a transaction that wrote outbox events commits (main.ts: `relay.kick()`). */
  onCommitted?: () => void;
  /** Where ended sessions are recorded for the verifiers (Redis); absent, access tokens outlive logout. */
  denylist?: SessionDenylist;
}

export interface AdminAccount {
  email: string;
  password: string;
  name: string;
}

const INVALID_CREDENTIALS = "The email or password is incorrect";
const INVALID_REFRESH = "The refresh token is invalid, expired or revoked";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

type Outcome = "ok" | "duplicate" | "invalid" | "reuse_detected";

export function toUser(row: UserRow): AuthModel.User {
  return { id: row.id, email: row.email, name: row.name, role: row.role, bankAccountId: row.bankAccountId };
}

export function createAuthService(deps: AuthServiceDeps) {
  const { db, clock, config, log } = deps;
  const onCommitted = deps.onCommitted ?? (() => {});
  const endedSessions = createEndedSessions({
    db,
    clock,
    log,
    ...(deps.denylist ? { denylist: deps.denylist } : {}),
    accessTokenTtlSeconds: config.ACCESS_TOKEN_TTL_SECONDS,
  });
  const keys = Promise.resolve(
    deps.keys ?? loadSigningKeys({ privateKeyPem: config.JWT_PRIVATE_KEY, publicKeyPem: config.JWT_PUBLIC_KEY }),
  );
  // Awaited on use; this only keeps a bad key from becoming an unhandled rejection before then.
  keys.catch(() => {});

  const operations = deps.metrics
    ? ((deps.metrics.registry.getSingleMetric("careforall_auth_operations_total") as
        | ReturnType<HttpMetrics["counter"]>
        | undefined) ??
      deps.metrics.counter("careforall_auth_operations_total", "Auth operations by outcome", ["operation", "outcome"]))
    : undefined;
  const count = (operation: string, outcome: Outcome) => operations?.inc({ operation, outcome });

  const hashPassword = (password: string) =>
    Bun.password.hash(password, { algorithm: "argon2id", memoryCost: config.PASSWORD_HASH_MEMORY_KIB, timeCost: 2 });
  // Verified against when the email is unknown, so a miss costs the same as a wrong password.
  const dummyHash = hashPassword(crypto.randomUUID());

  async function insertRefreshToken(tx: Executor<AuthDbSchema>, userId: string, familyId: string): Promise<string> {
    const token = newRefreshToken();
    const now = clock.now();
    await tx.insert(refreshTokens).values({
      id: Bun.randomUUIDv7(),
      userId,
      familyId,
      tokenHash: hashToken(token),
      expiresAt: new Date(now + config.REFRESH_TOKEN_TTL_SECONDS * 1000),
      createdAt: new Date(now),
    });
    return token;
  }

  /** `sid` names the session (the refresh family), so ending the session ends this token too. */
  async function signAccessToken(user: UserRow, sessionId: string): Promise<string> {
    const { privateKey, kid } = await keys;
    const iat = Math.floor(clock.now() / 1000);
    return new SignJWT({ email: user.email, name: user.name, role: user.role, sid: sessionId })
      .setProtectedHeader({ alg: "EdDSA", typ: "JWT", kid })
      .setSubject(user.id)
      .setIssuer(config.JWT_ISSUER)
      .setIssuedAt(iat)
      .setExpirationTime(iat + config.ACCESS_TOKEN_TTL_SECONDS)
      .setJti(Bun.randomUUIDv7())
      .sign(privateKey);
  }

  async function session(user: UserRow, refreshToken: string, sessionId: string): Promise<AuthModel.Session> {
    return {
      user: toUser(user),
      accessToken: await signAccessToken(user, sessionId),
      refreshToken,
      expiresIn: config.ACCESS_TOKEN_TTL_SECONDS,
    };
  }

  function userRegisteredEvent(user: UserRow) {
    return newEvent(
      UserRegistered.type,
      user.id,
      { userId: user.id, email: user.email, name: user.name, role: user.role },
      clock,
    );
  }

  async function findByEmail(email: string): Promise<UserRow | undefined> {
    const [row] = await db.select().from(users).where(eq(users.email, email)).limit(1);
    return row;
  }

  return {
    /** New donor account + `user.registered` outbox event + first refresh token, in one transaction. */
    async register(input: AuthModel.RegisterBody): Promise<AuthModel.Session> {
      const passwordHash = await hashPassword(input.password);
      const now = clock.date();
      const familyId = Bun.randomUUIDv7();
      let created: { user: UserRow; refreshToken: string };
      try {
        created = await db.transaction(async (tx) => {
          const [user] = await tx
            .insert(users)
            .values({
              id: Bun.randomUUIDv7(),
              email: normaliseEmail(input.email),
              name: input.name,
              passwordHash,
              role: "donor", // registration never grants admin
              createdAt: now,
              updatedAt: now,
            })
            .returning();
          if (!user) throw new Error("insert into auth.users returned no row");
          // Invariant 5: the account and its event commit together.
          await enqueue(tx, outbox, userRegisteredEvent(user));
          return { user, refreshToken: await insertRefreshToken(tx, user.id, familyId) };
        });
      } catch (err) {
        // The unique constraint decides concurrent registrations of one address.
        if (isUniqueViolation(err, "users_email_key")) {
          count("register", "duplicate");
          throw conflict("An account with this email already exists", "email-taken");
        }
        throw err;
      }
      onCommitted();
      count("register", "ok");
      log.info({ userId: created.user.id }, "user.registered");
      return session(created.user, created.refreshToken, familyId);
    },

    async login(input: AuthModel.LoginBody): Promise<AuthModel.Session> {
      const user = await findByEmail(normaliseEmail(input.email));
      const valid = await Bun.password.verify(input.password, user?.passwordHash ?? (await dummyHash));
      if (!user || !valid) {
        count("login", "invalid");
        throw unauthorized(INVALID_CREDENTIALS);
      }
      // A login starts a new token family, independent of the user's other devices.
      const familyId = Bun.randomUUIDv7();
      const refreshToken = await insertRefreshToken(db, user.id, familyId);
      count("login", "ok");
      return session(user, refreshToken, familyId);
    },

    async refresh(token: string): Promise<AuthModel.Session> {
      const tokenHash = hashToken(token);
      const now = clock.date();
      const outcome = await db.transaction(async (tx) => {
        // Spend the token only if it is live; the row lock makes concurrent refreshes of one token
        // rotate it exactly once (the losers see used_at set and fall through to reuse detection).
        const [spent] = await tx
          .update(refreshTokens)
          .set({ usedAt: now })
          .where(
            and(
              eq(refreshTokens.tokenHash, tokenHash),
              isNull(refreshTokens.usedAt),
              isNull(refreshTokens.revokedAt),
              gt(refreshTokens.expiresAt, now),
            ),
          )
          .returning();
        if (spent) {
          const [user] = await tx.select().from(users).where(eq(users.id, spent.userId));
          if (!user) return { kind: "invalid" as const };
          return {
            kind: "rotate" as const,
            user,
            familyId: spent.familyId,
            refreshToken: await insertRefreshToken(tx, user.id, spent.familyId),
          };
        }
        const [row] = await tx.select().from(refreshTokens).where(eq(refreshTokens.tokenHash, tokenHash));
        if (row && decideRefresh(row, now) === "reuse-detected") {
          await tx
            .update(refreshTokens)
            .set({ revokedAt: now })
            .where(and(eq(refreshTokens.familyId, row.familyId), isNull(refreshTokens.revokedAt)));
          return { kind: "reuse-detected" as const, userId: row.userId, familyId: row.familyId };
        }
        return { kind: "invalid" as const };
      });
      switch (outcome.kind) {
        case "rotate":
          count("refresh", "ok");
          return session(outcome.user, outcome.refreshToken, outcome.familyId);
        case "reuse-detected":
          // Committed above: the family stays revoked even though this request fails.
          count("refresh", "reuse_detected");
          log.warn({ userId: outcome.userId, familyId: outcome.familyId }, "refresh_token.reuse_detected");
          // The family's access tokens end with it, the thief's and the owner's alike.
          await endedSessions.ended([outcome.familyId]);
          throw unauthorized(INVALID_REFRESH);
        case "invalid":
          count("refresh", "invalid");
          throw unauthorized(INVALID_REFRESH);
      }
    },

    /**
     * Revokes the token's whole family and ends its access tokens; unknown tokens are a no-op. A
     * token of an already revoked family denylists it again (idempotent), so a client retrying a
     * logout whose denylist write failed still ends its access tokens.
     */
    async logout(token: string): Promise<void> {
      const [row] = await db
        .select({ familyId: refreshTokens.familyId })
        .from(refreshTokens)
        .where(eq(refreshTokens.tokenHash, hashToken(token)))
        .limit(1);
      if (!row) return;
      await db
        .update(refreshTokens)
        .set({ revokedAt: clock.date() })
        .where(and(eq(refreshTokens.familyId, row.familyId), isNull(refreshTokens.revokedAt)));
      await endedSessions.ended([row.familyId]);
    },

    async getUser(id: string): Promise<AuthModel.User> {
      if (!UUID.test(id)) throw notFound("No such user");
      const [row] = await db.select().from(users).where(eq(users.id, id)).limit(1);
      if (!row) throw notFound("No such user");
      return toUser(row);
    },

    /**
     * Makes sure the configured admin account exists with role admin; safe to run on every start
     * and from several replicas at once. An existing account keeps its name; its password hash is
     * replaced only when the configured password no longer verifies.
     */
    async ensureAdmin(admin: AdminAccount): Promise<AuthModel.User> {
      const email = normaliseEmail(admin.email);
      // Two rounds at most: if another replica inserts between our read and our insert, the
      // second round finds its row.
      for (let round = 0; round < 2; round++) {
        const existing = await findByEmail(email);
        if (existing) {
          const changes: Partial<Pick<UserRow, "role" | "passwordHash">> = {};
          if (existing.role !== "admin") changes.role = "admin";
          if (!(await Bun.password.verify(admin.password, existing.passwordHash))) {
            changes.passwordHash = await hashPassword(admin.password);
          }
          if (Object.keys(changes).length === 0) return toUser(existing);
          const [updated] = await db
            .update(users)
            .set({ ...changes, updatedAt: clock.date() })
            .where(eq(users.id, existing.id))
            .returning();
          log.info({ userId: existing.id, changed: Object.keys(changes) }, "admin.updated");
          return toUser(updated ?? { ...existing, ...changes });
        }
        const passwordHash = await hashPassword(admin.password);
        const now = clock.date();
        const created = await db.transaction(async (tx) => {
          const [user] = await tx
            .insert(users)
            .values({
              id: Bun.randomUUIDv7(),
              email,
              name: admin.name,
              passwordHash,
              role: "admin",
              createdAt: now,
              updatedAt: now,
            })
            .onConflictDoNothing({ target: users.email })
            .returning();
          if (user) await enqueue(tx, outbox, userRegisteredEvent(user));
          return user;
        });
        if (created) {
          onCommitted();
          log.info({ userId: created.id }, "admin.created");
          return toUser(created);
        }
      }
      throw new Error("ensureAdmin: the admin account was neither found nor created");
    },

    /** The public half of the signing key as a JWK Set. */
    async jwks(): Promise<AuthModel.JwkSet> {
      return { keys: [(await keys).jwk] };
    },
  };
}

export type AuthService = ReturnType<typeof createAuthService>;
