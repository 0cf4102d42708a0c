// Room routes (internal paths; the gateway maps /api/chat/... and the WebSocket's `say` here
// through Eden, forwarding the user's bearer token). Every route names its callers: the gateway.
import { type authGuard, Problem, serviceCallers } from "@careforall/http";
import { Elysia } from "elysia";
import { ChatModel } from "../model";
import type { PostMessage } from "../post-message";
import type { ReadHistory } from "../read-history";

export interface RoomRoutesDeps {
  postMessage: PostMessage;
  readHistory: ReadHistory;
  /** The auth macros (`auth`, `optionalAuth`), built once by the app from the public key. */
  guard: ReturnType<typeof authGuard>;
}

const detail = (summary: string, description: string) => ({ tags: ["chat"], summary, description });

export function roomRoutes({ postMessage, readHistory, guard }: RoomRoutesDeps) {
  return new Elysia()
    .use(serviceCallers)
    .guard({ callers: ["gateway"] })
    .use(guard)
    .post(
      "/rooms/:room/messages",
      async ({ params, body, principal, set, status }) => {
        const { message, replayed } = await postMessage(principal, params.room, body);
        if (replayed) set.headers["idempotent-replayed"] = "true";
        return status(201, message);
      },
      {
        auth: true,
        parse: "json",
        params: ChatModel.RoomParams,
        body: ChatModel.PostMessageBody,
        response: {
          201: ChatModel.Message,
          400: Problem,
          401: Problem,
          404: Problem,
          413: Problem,
          422: Problem,
          429: Problem,
          503: Problem,
        },
        detail: detail(
          "Post a message to a room (signed in)",
          "Campaign rooms: any signed-in user, for a campaign that exists. Support rooms: their user and admins; " +
            "anyone else, and a malformed room name, get 404. The message is stored, then pushed as a chat.message " +
            "frame on the room's fan-out topic. A retry with the same clientId returns the first message " +
            "(201, Idempotent-Replayed: true); the same clientId with another text or room → 422. " +
            "Too many posts → 429 with Retry-After.",
        ),
      },
    )
    .get("/rooms/:room/messages", ({ params, query, viewer }) => readHistory(viewer, params.room, query), {
      optionalAuth: true,
      params: ChatModel.RoomParams,
      query: ChatModel.HistoryQuery,
      response: { 200: ChatModel.History, 400: Problem, 401: Problem, 404: Problem },
      detail: detail(
        "A room's messages, newest first",
        "Campaign rooms: anyone (a campaign with no messages, or none known, has an empty history). Support rooms: " +
          "their user and admins, anyone else 404. Page with `before` = the last id of the previous page.",
      ),
    });
}
