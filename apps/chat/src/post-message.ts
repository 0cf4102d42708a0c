// Posting a message: who may post where, the text rule, the per-user rate limit, the idempotent
// insert, and then — only after the commit — the live push to every gateway replica.
import type { Fanout } from "@careforall/bus";
import type { RateLimiter } from "@careforall/cache";
import type { Clock } from "@careforall/config";
import { badRequest, notFound, type Principal, tooManyRequests, unprocessable } from "@careforall/http";
import type { Logger } from "@careforall/log";
import { campaignExists } from "./campaign-directory";
import { canPost, parseRoom, textProblem } from "./domain";
import { type ChatDb, insertMessage, toMessage } from "./message-store";
import type { ChatModel } from "./model";

/** The rate limit's window: CHAT_RATE_PER_10S posts per user in it. */
export const RATE_WINDOW_SECONDS = 10;
/** Shown for a token without a `name` claim (auth always sets one; older or foreign tokens may not). */
export const NAMELESS = "Anonymous";

/** One answer for "no such room", "not yours" and "not a room name": existence is never revealed. */
export const roomNotFound = () => notFound("No such room");

/** The fan-out topic of a room (realtime contract: `chat.<room>`). */
export const chatTopic = (room: string) => `chat.${room}`;

export interface PostMessageDeps {
  db: ChatDb;
  clock: Clock;
  log: Logger;
  fanout: Fanout;
  limiter: RateLimiter;
  /** Posts per user per RATE_WINDOW_SECONDS; 0: no limit. */
  ratePer10s: number;
  onStored?: () => void;
  onRateLimited?: () => void;
  onPushFailed?: () => void;
}

export interface PostOutcome {
  message: ChatModel.Message;
  /** True when this was a retry: the first message with the same clientId, nothing stored or pushed. */
  replayed: boolean;
}

export function createPostMessage(deps: PostMessageDeps) {
  const { db, clock, log, fanout, limiter, ratePer10s } = deps;

  return async function postMessage(
    poster: Principal,
    roomName: string,
    body: ChatModel.PostMessageBody,
  ): Promise<PostOutcome> {
    const room = parseRoom(roomName);
    if (!room || !canPost(room, poster)) throw roomNotFound();
    const problem = textProblem(body.text);
    if (problem) throw badRequest(`text: ${problem}`, [{ path: "text", message: problem }]);
    if (room.kind === "campaign" && !(await campaignExists(db, room.campaignId))) throw roomNotFound();

    // Counted before the insert, so concurrent posts cannot all pass a check made before any counted.
    const limit = await limiter.hit(`chat:post:${poster.id}`, ratePer10s, RATE_WINDOW_SECONDS);
    if (!limit.allowed) {
      deps.onRateLimited?.();
      throw tooManyRequests(limit.retryAfterSeconds);
    }

    const now = clock.date();
    const { row, created } = await insertMessage(db, {
      id: Bun.randomUUIDv7(undefined, now),
      room: room.name,
      userId: poster.id,
      name: poster.name.trim() === "" ? NAMELESS : poster.name,
      text: body.text,
      clientId: body.clientId ?? null,
      createdAt: now,
    });
    const message = toMessage(row);
    if (!created) {
      // The same clientId for another message is a client bug, not a retry: say so rather than
      // answer with a message the client did not send.
      if (row.room !== room.name || row.text !== body.text)
        throw unprocessable("This clientId was already used for another message", "client-id-reused");
      return { message, replayed: true };
    }
    deps.onStored?.();

    // After the commit, never before: a frame for a message that then failed to commit would show
    // text nobody can read back. A crash between the commit and this line loses one live push, not
    // the message — history has it, and a client reconciles by id on its next read. A push is lossy
    // by design (the fan-out is NATS core), so an outbox would buy nothing: it would guarantee the
    // hand-over to a medium that may drop the frame anyway.
    const frame: ChatModel.MessageFrame = { type: "chat.message", ...message };
    if (!fanout.publish(chatTopic(room.name), frame)) {
      deps.onPushFailed?.();
      log.warn({ room: room.name, messageId: message.id }, "chat.push_failed");
    }
    return { message, replayed: false };
  };
}

export type PostMessage = ReturnType<typeof createPostMessage>;
