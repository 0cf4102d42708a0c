// The signed-in session, kept in localStorage: the refresh token, so a reload stays signed in, and
// the short-lived access token with its expiry, so a reload (or another tab) reuses it instead of
// refreshing — a page left while its refresh is in flight would lose the rotated token, and the
// old one sent again revokes the whole family. Refreshing is single-flight per tab and serialised
// across tabs (Web Locks); a tab that waited for the lock takes the token another tab just got.
import { createSignal } from "solid-js";
import { type KeyValue, readJson, writeJson } from "../lib/storage";

export interface User {
  id: string;
  email: string;
  name: string;
  role: "donor" | "admin";
  bankAccountId: string | null;
}

export interface SessionBody {
  user: User;
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
}

/** Sends { refreshToken } to POST /api/auth/refresh: the new session, null when refused (401), throws when unreachable. */
export type RefreshCall = (refreshToken: string) => Promise<SessionBody | null>;

export interface SessionDeps {
  storage: KeyValue;
  refresh: RefreshCall;
  now?: () => number;
  /** Cross-tab mutual exclusion; navigator.locks in a browser. */
  lock?: <T>(name: string, fn: () => Promise<T>) => Promise<T>;
}

const STORED = "cfa.session";
/** Refresh this long before the access token expires, so a call never leaves with a dying token. */
const MARGIN_MS = 30_000;

interface Stored {
  refreshToken: string;
  user: User;
  access?: { token: string; expiresAt: number };
}

export function browserLock(): SessionDeps["lock"] {
  const locks = (globalThis.navigator as Navigator | undefined)?.locks;
  return locks ? (name, fn) => locks.request(name, fn) as never : undefined;
}

export function createSession(deps: SessionDeps) {
  const now = deps.now ?? Date.now;
  const stored = readJson<Stored>(deps.storage, STORED);
  const [user, setUser] = createSignal<User | null>(stored?.user ?? null);
  /** Set when a session ended without the user asking (refresh refused): the UI says so once. */
  const [expired, setExpired] = createSignal(false);
  const live = (a: Stored["access"]) => (a && a.expiresAt - now() > MARGIN_MS ? a : null);
  let access: { token: string; expiresAt: number } | null = live(stored?.access);
  let inflight: Promise<string | null> | null = null;
  const listeners = new Set<() => void>();

  const changed = () => {
    for (const l of listeners) l();
  };

  function adopt(body: SessionBody): void {
    access = { token: body.accessToken, expiresAt: now() + body.expiresIn * 1000 };
    writeJson(deps.storage, STORED, { refreshToken: body.refreshToken, user: body.user, access } satisfies Stored);
    const before = user()?.id;
    setUser(body.user);
    setExpired(false);
    if (before !== body.user.id) changed();
  }

  function clear(wasExpired: boolean): void {
    const had = user() !== null;
    access = null;
    deps.storage.removeItem(STORED);
    setUser(null);
    if (wasExpired && had) setExpired(true);
    if (had) changed();
  }

  async function doRefresh(): Promise<string | null> {
    const run = async () => {
      // Another tab may have rotated the token while this one waited for the lock.
      const current = readJson<Stored>(deps.storage, STORED);
      if (!current) {
        clear(false);
        return null;
      }
      const fresh = live(current.access);
      if (fresh && fresh.token !== access?.token) {
        access = fresh;
        return fresh.token;
      }
      const body = await deps.refresh(current.refreshToken);
      if (!body) {
        clear(true);
        return null;
      }
      adopt(body);
      return body.accessToken;
    };
    return deps.lock ? deps.lock("cfa.refresh", run) : run();
  }

  return {
    user,
    expired,
    dismissExpired: () => setExpired(false),
    adopt,
    /** Signed out on purpose (no "your session ended" message). */
    signOut: () => clear(false),
    /** The refresh token to revoke at sign-out. */
    refreshToken: () => readJson<Stored>(deps.storage, STORED)?.refreshToken ?? null,
    /** A token good for at least MARGIN_MS, refreshing first when needed; null when signed out. */
    async accessToken(): Promise<string | null> {
      if (access && access.expiresAt - now() > MARGIN_MS) return access.token;
      if (!user() && !readJson<Stored>(deps.storage, STORED)) return null;
      return this.refreshNow();
    },
    /** Refresh now (after a 401): every caller at once shares one refresh. */
    refreshNow(): Promise<string | null> {
      inflight ??= doRefresh().finally(() => {
        inflight = null;
      });
      return inflight;
    },
    /** Called when the signed-in user changes (sign-in, sign-out, expiry): the socket reconnects. */
    onChange(fn: () => void): () => void {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
  };
}

export type Session = ReturnType<typeof createSession>;
