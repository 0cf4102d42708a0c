// Reading a room's history: newest first, paged with `before` (a message id). Campaign rooms are
// public; a support room is its user's and the admins' — anyone else gets the same 404 as for a
// room that does not exist.
import { canRead, parseRoom, type Viewer } from "./domain";
import { type ChatDb, listMessages, toMessage } from "./message-store";
import type { ChatModel } from "./model";
import { roomNotFound } from "./post-message";

export const HISTORY_DEFAULT_LIMIT = 50;

export function createReadHistory({ db }: { db: ChatDb }) {
  return async function readHistory(
    viewer: Viewer | null,
    roomName: string,
    query: ChatModel.HistoryQuery,
  ): Promise<ChatModel.History> {
    const room = parseRoom(roomName);
    if (!room || !canRead(room, viewer)) throw roomNotFound();
    const rows = await listMessages(db, room.name, {
      limit: query.limit ?? HISTORY_DEFAULT_LIMIT,
      before: query.before?.toLowerCase(),
    });
    return rows.map(toMessage);
  };
}

export type ReadHistory = ReturnType<typeof createReadHistory>;
