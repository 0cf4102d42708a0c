// The unread-notifications count the header's badge shows: read once per signed-in user, then moved
// by the socket's notification frames and by marking read on the notifications page.
import { createSignal } from "solid-js";
import type { Api } from "../../api/client";

const LIMIT = 100;
const [count, setCount] = createSignal(0);
/** True when there are more unread than one page shows (the badge says "99+"). */
const [more, setMore] = createSignal(false);

export const unread = { count, more };

export async function refreshUnread(api: Api): Promise<void> {
  const res = await api.client.notifications.get({ query: { unread: true, limit: LIMIT } }).catch(() => null);
  const page = res?.data as { items: unknown[]; nextCursor: string | null } | null | undefined;
  if (!page) return;
  setCount(page.items.length);
  setMore(page.nextCursor !== null);
}

export function bumpUnread(delta: number): void {
  setCount((n) => Math.max(0, n + delta));
}

export function clearUnread(): void {
  setCount(0);
  setMore(false);
}
