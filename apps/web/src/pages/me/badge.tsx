// The header's Notifications link with a live unread badge: while someone is signed in the tab's
// socket stays open (their notifications are pushed to it unasked) and each push adds one.
import { A } from "@solidjs/router";
import { createEffect, on, onCleanup, Show } from "solid-js";
import { useServices } from "../../context";
import { bumpUnread, clearUnread, refreshUnread, unread } from "./unread";

export function NotificationsLink() {
  const { api, realtime } = useServices();
  createEffect(
    on(
      () => api.session.user()?.id,
      (id) => {
        realtime.keepAlive(Boolean(id));
        clearUnread();
        if (id) void refreshUnread(api);
      },
    ),
  );
  const offFrame = realtime.on((frame) => {
    if (frame.type === "notification") bumpUnread(1);
  });
  // Pushes missed while the socket was away are not replayed: count again.
  const offReconnect = realtime.onReconnect(() => {
    if (api.session.user()) void refreshUnread(api);
  });
  // Signed out (this link goes with the signed-in header): no user's pushes to wait for.
  onCleanup(() => {
    offFrame();
    offReconnect();
    realtime.keepAlive(false);
    clearUnread();
  });
  const label = () => (unread.more() ? `${unread.count()}+` : String(unread.count()));
  return (
    <A href="/me/notifications" aria-label={`Notifications, ${label()} unread`}>
      Notifications
      <Show when={unread.count() > 0}>
        {" "}
        <span class="count-badge" data-testid="unread-badge" aria-hidden="true">
          {label()}
        </span>
      </Show>
    </A>
  );
}
