// /api/notifications: the signed-in user's stored notifications (admins also the operator kinds),
// newest first, and marking them read — forwarded to the notification service with the user's
// bearer. The same notifications are pushed live over GET /api/ws as they are stored.
import { IdParams, Problem } from "@careforall/http";
import type { Logger } from "@careforall/log";
import { type NotificationApp, NotificationModel } from "@careforall/notification";
import type { Treaty } from "@elysiajs/eden";
import { Elysia, t } from "elysia";
import { examples } from "../openapi/examples";
import { operation } from "../openapi/operation";
import { call, upstreamHeaders } from "../upstream";
import type { GatewayContext } from "./context";

export interface NotificationRoutesDeps {
  notification: Treaty.Create<NotificationApp>;
  log: Logger;
  context: GatewayContext;
}

const NoContent = t.Void({ description: "No content" });

export function notificationRoutes({ notification, log, context }: NotificationRoutesDeps) {
  return new Elysia({ name: "gateway-notification-routes" })
    .use(context)
    .get(
      "/api/notifications",
      async ({ query, headers, requestId }) => {
        const res = await call(
          log,
          "notification",
          notification.notifications.get({ query, headers: upstreamHeaders(requestId, headers.authorization) }),
        );
        return res.data as NotificationModel.NotificationPage;
      },
      {
        auth: true,
        query: NotificationModel.ListNotificationsQuery,
        response: { 200: NotificationModel.NotificationPage, 400: Problem, 401: Problem },
        detail: operation({
          id: "listNotifications",
          tag: "notifications",
          summary: "Your notifications, newest first",
          description:
            "What the platform told you, stored so you find it after being offline: a donation captured, failed " +
            "(with the reason in words) or refunded. Administrators also get the operator kinds: `pledge.stuck`, " +
            "`audit.drift`, `webhook.signature_failures`, `campaign.goal_reached` (a campaign's organiser gets that " +
            "one too). `unread=true` lists the unread ones only; page with `cursor`. The same notifications arrive " +
            "live as `notification` frames on `GET /api/ws`.",
          access: "bearer",
          responseExample: examples.page(examples.notification),
        }),
      },
    )
    .post(
      "/api/notifications/read-all",
      async ({ headers, requestId, set }) => {
        await call(
          log,
          "notification",
          notification.notifications["read-all"].post(undefined, {
            headers: upstreamHeaders(requestId, headers.authorization),
          }),
        );
        set.status = 204;
      },
      {
        auth: true,
        response: { 204: NoContent, 401: Problem },
        detail: operation({
          id: "markAllNotificationsRead",
          tag: "notifications",
          summary: "Mark all your notifications read",
          description: "Every notification of yours that is unread now gets its `readAt`. Always `204`.",
          access: "bearer",
        }),
      },
    )
    .post(
      "/api/notifications/:id/read",
      async ({ params, headers, requestId, set }) => {
        await call(
          log,
          "notification",
          notification
            .notifications({ id: params.id })
            .read.post(undefined, { headers: upstreamHeaders(requestId, headers.authorization) }),
        );
        set.status = 204;
      },
      {
        auth: true,
        params: IdParams,
        response: { 204: NoContent, 400: Problem, 401: Problem, 404: Problem },
        detail: operation({
          id: "markNotificationRead",
          tag: "notifications",
          summary: "Mark one notification read",
          description:
            "Sets its `readAt` (marking it again changes nothing). Another user's notification, or an unknown id, " +
            "does not exist for you (`404`).",
          access: "bearer",
        }),
      },
    );
}
