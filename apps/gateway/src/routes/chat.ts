// GET /api/chat/rooms/:room/messages: a room's history, newest first, forwarded to the chat service
// with the caller's bearer (if any) — campaign rooms are anyone's, support rooms their user's and the
// administrators' (others: 404). Live messages come over GET /api/ws (docs/api.md).
import { type ChatApp, ChatModel } from "@careforall/chat";
import { Problem } from "@careforall/http";
import type { Logger } from "@careforall/log";
import type { Treaty } from "@elysiajs/eden";
import { Elysia } from "elysia";
import { examples } from "../openapi/examples";
import { operation } from "../openapi/operation";
import { call, upstreamHeaders } from "../upstream";
import type { GatewayContext } from "./context";

export interface ChatRoutesDeps {
  chat: Treaty.Create<ChatApp>;
  log: Logger;
  context: GatewayContext;
}

export function chatRoutes({ chat, log, context }: ChatRoutesDeps) {
  return new Elysia({ name: "gateway-chat-routes" }).use(context).get(
    "/api/chat/rooms/:room/messages",
    async ({ params, query, headers, requestId }) => {
      const res = await call(
        log,
        "chat",
        chat
          .rooms({ room: params.room })
          .messages.get({ query, headers: upstreamHeaders(requestId, headers.authorization) }),
      );
      return res.data as ChatModel.History;
    },
    {
      optionalAuth: true,
      params: ChatModel.RoomParams,
      query: ChatModel.HistoryQuery,
      response: { 200: ChatModel.History, 400: Problem, 401: Problem, 404: Problem },
      detail: operation({
        id: "listChatMessages",
        tag: "chat",
        summary: "A chat room's messages, newest first",
        description:
          "`room` is `campaign:<campaignId>` (a campaign's public Q&A: anyone reads) or `support:<userId>` (that " +
          "user and the administrators; anyone else, and a malformed room name, get `404`). Up to `limit` " +
          "messages (1–100, default 50); for older ones pass the last `id` of the previous page as `before`. " +
          "Text is plain text, exactly as posted: render it as text, never as HTML. Posting and live messages " +
          "go over the WebSocket `GET /api/ws` (docs/api.md).",
        access: "optional",
        responseExample: [examples.chatMessage],
      }),
    },
  );
}
