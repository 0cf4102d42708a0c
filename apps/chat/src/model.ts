// Chat HTTP schemas, each paired with its same-named type. One definition feeds request
// validation, the Eden client types (the gateway calls chat through them) and the OpenAPI document.
import { t } from "elysia";
import { TEXT_MAX, TEXT_MAX_UTF16 } from "./domain/text";

/** A UUIDv7 in either case (message ids are UUIDv7). */
const UUID_V7 = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-7[0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}$";

export namespace ChatModel {
  // No pattern here: a malformed room answers 404 like a room one may not see (the contract),
  // not a 400 that would tell the two apart.
  export const RoomParams = t.Object({
    room: t.String({ "x-name": "room", description: "`campaign:<campaignId>` or `support:<userId>`" }),
  });
  export type RoomParams = typeof RoomParams.static;

  export const PostMessageBody = t.Object({
    // The exact limit is in code points (domain/text.ts); this bound in UTF-16 units only keeps
    // absurd bodies out before counting.
    text: t.String({
      minLength: 1,
      maxLength: TEXT_MAX_UTF16,
      description: `1..${TEXT_MAX} characters (Unicode code points), plain text, stored and sent exactly as given`,
    }),
    clientId: t.Optional(
      t.String({
        minLength: 1,
        maxLength: 64,
        description: "The sender's own id for this message: echoed back, and a retry with it returns the first message",
      }),
    ),
  });
  export type PostMessageBody = typeof PostMessageBody.static;

  export const Message = t.Object({
    id: t.String({ format: "uuid", description: "UUIDv7: later messages have greater ids" }),
    room: t.String(),
    userId: t.String({ format: "uuid" }),
    name: t.String({ description: "The poster's display name when they posted" }),
    text: t.String({ description: "Plain text, exactly as posted (render it as text, never as HTML)" }),
    at: t.String({ format: "date-time" }),
    clientId: t.Optional(t.String()),
  });
  export type Message = typeof Message.static;

  /** What the fan-out carries on `chat.<room>`: the API.md server→client frame. */
  export type MessageFrame = { type: "chat.message" } & Message;

  export const HistoryQuery = t.Object({
    limit: t.Optional(t.Integer({ minimum: 1, maximum: 100, default: 50, "x-name": "limit" })),
    before: t.Optional(
      t.String({
        pattern: UUID_V7,
        "x-name": "before",
        description: "A message id: only messages older than it (pass the last id of the previous page)",
      }),
    ),
  });
  export type HistoryQuery = typeof HistoryQuery.static;

  export const History = t.Array(Message, { description: "Newest first" });
  export type History = typeof History.static;
}
