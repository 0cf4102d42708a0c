// Notification HTTP schemas, each paired with its same-named type. One definition feeds request
// validation, the Eden client types (the gateway calls notification through them) and OpenAPI.
import { ListQuery, Page } from "@careforall/http";
import { t } from "elysia";
import type { NOTIFICATION_KINDS } from "./domain";

const DateTime = t.String({ format: "date-time" });

export namespace NotificationModel {
  export const Kind = t.Union(
    [
      t.Literal("pledge.captured"),
      t.Literal("pledge.failed"),
      t.Literal("pledge.refunded"),
      t.Literal("pledge.stuck"),
      t.Literal("audit.drift"),
      t.Literal("webhook.signature_failures"),
      t.Literal("campaign.goal_reached"),
    ],
    {
      description: "Donor kinds (pledge.captured, pledge.failed, pledge.refunded) and, for admins, the operator kinds",
    },
  );
  export type Kind = typeof Kind.static;
  // The schema lists every kind the domain knows, and only those.
  const _sameKinds: [Kind, (typeof NOTIFICATION_KINDS)[number]] extends [(typeof NOTIFICATION_KINDS)[number], Kind]
    ? true
    : never = true;

  export const Notification = t.Object({
    id: t.String({ format: "uuid" }),
    kind: Kind,
    title: t.String(),
    body: t.String({ description: "Plain text" }),
    at: DateTime,
    readAt: t.Union([DateTime, t.Null()]),
    pledgeId: t.Optional(t.String({ format: "uuid" })),
    campaignId: t.Optional(t.String({ format: "uuid" })),
  });
  export type Notification = typeof Notification.static;

  export const ListNotificationsQuery = t.Object({
    ...ListQuery,
    unread: t.Optional(t.Boolean({ description: "true: only notifications not read yet" })),
  });
  export type ListNotificationsQuery = typeof ListNotificationsQuery.static;

  export const NotificationPage = Page(Notification);
  export type NotificationPage = typeof NotificationPage.static;

  /** Optional Bearer token: declared so Eden callers may pass it (the auth macros read it). */
  export const AuthHeaders = t.Object({ authorization: t.Optional(t.String({ description: "Bearer <accessToken>" })) });
}
