// The WebSocket frames of GET /api/ws (API.md "Real time"), one TypeBox schema per shape: the
// client's ops, checked by compiled validators in the message handler, and the frames the gateway
// itself writes (the fan-out's frames arrive already serialised by their publishers).
import { type Static, Type as t } from "@sinclair/typebox";

const Uuid = t.String({ pattern: "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$" });

export namespace RealtimeModel {
  /** Live totals of a campaign; its current totals are sent at once. */
  export const FollowCampaign = t.Object({ op: t.Literal("follow"), campaignId: Uuid });
  export type FollowCampaign = Static<typeof FollowCampaign>;
  /**
   * A pledge's status changes, for whoever holds its receipt token (guests) — or, signed in, its
   * donor or an admin (no token needed). Checked with the pledge service before it is followed.
   */
  export const FollowPledge = t.Object({
    op: t.Literal("follow"),
    pledgeId: Uuid,
    receiptToken: t.Optional(t.String({ minLength: 1, maxLength: 512 })),
  });
  export type FollowPledge = Static<typeof FollowPledge>;
  export const UnfollowCampaign = t.Object({ op: t.Literal("unfollow"), campaignId: Uuid });
  export type UnfollowCampaign = Static<typeof UnfollowCampaign>;
  export const UnfollowPledge = t.Object({ op: t.Literal("unfollow"), pledgeId: Uuid });
  export type UnfollowPledge = Static<typeof UnfollowPledge>;
  /** `campaign:<id>` or `support:<userId>` (checked by parseRoom: a malformed name is `forbidden`). */
  export const RoomName = t.String({ minLength: 1, maxLength: 100 });
  export const Join = t.Object({ op: t.Literal("join"), room: RoomName });
  export type Join = Static<typeof Join>;
  export const Leave = t.Object({ op: t.Literal("leave"), room: RoomName });
  export type Leave = Static<typeof Leave>;
  export const Say = t.Object({
    op: t.Literal("say"),
    room: RoomName,
    /** Checked apart (sayTextProblem) to answer `invalid_text`. */
    text: t.String(),
    clientId: t.Optional(t.String({ minLength: 1, maxLength: 64 })),
  });
  export type Say = Static<typeof Say>;
  /** A say's `text`: 1..2000 characters, counted as Unicode code points as the chat service counts them. */
  export const TEXT_MAX_CHARACTERS = 2000;
  export const Ping = t.Object({ op: t.Literal("ping") });
  export type Ping = Static<typeof Ping>;

  export type ClientFrame =
    | FollowCampaign
    | FollowPledge
    | UnfollowCampaign
    | UnfollowPledge
    | Join
    | Leave
    | Say
    | Ping;

  /** Why a frame was refused; the socket stays open unless said otherwise. */
  export const ErrorCode = t.Union([
    t.Literal("invalid_json"),
    t.Literal("invalid_frame"),
    t.Literal("unknown_op"),
    t.Literal("invalid_text"),
    t.Literal("unauthorized"),
    t.Literal("forbidden"),
    t.Literal("not_found"),
    t.Literal("too_many_follows"),
    t.Literal("too_many_rooms"),
    t.Literal("rate_limited"),
    t.Literal("unavailable"),
  ]);
  export type ErrorCode = Static<typeof ErrorCode>;
  export const ErrorFrame = t.Object({ type: t.Literal("error"), code: ErrorCode, message: t.String() });
  export type ErrorFrame = Static<typeof ErrorFrame>;
  export const Pong = t.Object({ type: t.Literal("pong") });
  export const CampaignTotals = t.Object({
    type: t.Literal("campaign.totals"),
    campaignId: t.String(),
    raisedMinor: t.Integer(),
    donorCount: t.Integer(),
    pledgeCount: t.Integer(),
  });
  export type CampaignTotals = Static<typeof CampaignTotals>;
}
