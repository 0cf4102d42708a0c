// The signed-in user's notifications (internal paths; the gateway maps /api/notifications… here
// through Eden). Only the gateway calls; the user is the forwarded bearer token, verified here.
import { type authGuard, IdParams, Problem, serviceCallers } from "@careforall/http";
import { Elysia, t } from "elysia";
import { NotificationModel } from "../model";
import type { NotificationService } from "../notifications";

export interface NotificationRoutesDeps {
  service: NotificationService;
  /** The auth macros, built once by the app from the public key (and the session denylist). */
  guard: ReturnType<typeof authGuard>;
}

const detail = (summary: string, description?: string) => ({
  tags: ["notifications"],
  summary,
  ...(description ? { description } : {}),
});

const NoContent = t.Void({ description: "No content" });

export function notificationRoutes({ service, guard }: NotificationRoutesDeps) {
  return new Elysia()
    .use(serviceCallers)
    .guard({ callers: ["gateway"] })
    .use(guard)
    .get("/notifications", ({ principal, query }) => service.list(principal, query), {
      auth: true,
      headers: NotificationModel.AuthHeaders,
      query: NotificationModel.ListNotificationsQuery,
      response: { 200: NotificationModel.NotificationPage, 400: Problem, 401: Problem },
      detail: detail(
        "The signed-in user's notifications, newest first",
        "Admins also see the operator kinds (pledge.stuck, audit.drift, webhook.signature_failures, " +
          "campaign.goal_reached), each admin with their own read marks. `unread=true` lists unread ones only.",
      ),
    })
    .post(
      "/notifications/read-all",
      async ({ principal, status }) => {
        await service.markAllRead(principal);
        return status(204, undefined);
      },
      {
        auth: true,
        headers: NotificationModel.AuthHeaders,
        response: { 204: NoContent, 401: Problem },
        detail: detail("Mark every notification of the signed-in user read"),
      },
    )
    .post(
      "/notifications/:id/read",
      async ({ principal, params, status }) => {
        await service.markRead(principal, params.id);
        return status(204, undefined);
      },
      {
        auth: true,
        headers: NotificationModel.AuthHeaders,
        params: IdParams,
        response: { 204: NoContent, 400: Problem, 401: Problem, 404: Problem },
        detail: detail("Mark one notification read (someone else's or unknown: 404)"),
      },
    );
}
